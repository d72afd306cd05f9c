# dpkg: prerm remove | upgrade new-version | deconfigure | failed-upgrade.
# An upgrade leaves the service running: postinst restarts it on the new
# binary.
case "$1" in
remove | deconfigure)
	service_stop
	;;
esac
exit 0
