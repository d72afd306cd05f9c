# Corporate proxy, set by the IT department's laptop setup.
if [ -n "$http_proxy" ]; then
    export ALL_PROXY="$http_proxy" # for tools that only read ALL_PROXY
fi
export ftp_proxy=proxy.corp.example; export FTP_PROXY=ftp://proxy.corp.example:2121
