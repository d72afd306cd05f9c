# rpm %preun: $1 is how many versions remain afterwards, 0 on an erase. rpm
# has no purge: an erase stops and disables the service and keeps the
# state (and changed configuration files, as .rpmsave); see README.md.
if [ "$1" -eq 0 ]; then
	service_stop
	service_forget
fi
exit 0
