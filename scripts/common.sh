# Shared by test.sh, demo.sh and bench.sh: run PostgreSQL as an unprivileged
# user when started as root (the server refuses to run as root).

PG_BINDIR=$(pg_config --bindir 2>/dev/null || echo /usr/lib/postgresql/15/bin)
PGUARD_USER=${PGUARD_USER:-pguard}

# Create the unprivileged user if needed.
ensure_user() {
	if [ "$(id -u)" -eq 0 ] && ! id "$PGUARD_USER" >/dev/null 2>&1; then
		useradd --system --create-home --shell /bin/bash "$PGUARD_USER"
	fi
}

# Run a command as the unprivileged user (or as ourselves when not root).
as_user() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u "$PGUARD_USER" -- "$@"
	else
		"$@"
	fi
}

# Build and install the extension (install needs root or a writable libdir).
build_install() {
	make -s >/dev/null
	if [ "$(id -u)" -eq 0 ] || [ -w "$(pg_config --pkglibdir)" ]; then
		make -s install >/dev/null
	else
		sudo make -s install >/dev/null
	fi
}

# Copy the source tree into a fresh directory the unprivileged user owns.
user_copy() {
	local dest
	dest=$(mktemp -d "/tmp/privacy_guard-$1.XXXXXX")
	tar --exclude=.git --exclude='./tmp_check' --exclude='./tmp_iso' --exclude='./results' -cf - . | tar -C "$dest" -xf -
	[ "$(id -u)" -eq 0 ] && chown -R "$PGUARD_USER" "$dest"
	chmod 755 "$dest"
	echo "$dest"
}
