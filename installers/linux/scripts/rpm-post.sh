# rpm %post: $1 is how many versions of the package are installed now, 1
# on a first install. On an upgrade the new files are in place already, so
# the service restarts here.
configure
if [ "$1" -eq 1 ]; then
	service_installed yes
else
	service_installed no
fi
exit 0
