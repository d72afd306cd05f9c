# dpkg: postrm remove | purge | upgrade | failed-upgrade | abort-* |
# disappear. Remove keeps the state and the configuration (and whether the
# service is enabled, for a later install); purge removes them.
case "$1" in
remove)
	service_reload
	;;
purge)
	purge
	service_forget
	service_reload
	;;
esac
exit 0
