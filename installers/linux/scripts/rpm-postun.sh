# rpm %postun: $1 is how many versions remain, 0 on an erase.
if [ "$1" -eq 0 ]; then
	service_reload
fi
exit 0
