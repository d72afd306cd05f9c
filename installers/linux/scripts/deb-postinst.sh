# dpkg: postinst configure [most-recently-configured-version] | abort-*
case "$1" in
configure)
	fresh=no
	if [ -z "${2:-}" ]; then
		fresh=yes
	fi
	configure
	service_installed "$fresh"
	;;
abort-upgrade | abort-remove | abort-deconfigure)
	service_installed no
	;;
esac
exit 0
