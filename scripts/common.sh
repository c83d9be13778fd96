# Shared by test.sh, demo.sh and bench.sh: run PostgreSQL as an unprivileged
# user when started as root (the server refuses to run as root).

PGUARD_USER=${PGUARD_USER:-pguard}
# PG_BINDIR: the bin directory of another PostgreSQL 15 installation
export PATH="${PG_BINDIR:-/usr/lib/postgresql/15/bin}:$PATH"

# Everything a demo or benchmark needs before it starts a server: packages,
# the unprivileged user, the extension built and installed.
prepare() {
	bash scripts/setup.sh
	ensure_user
	build_install
}

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
	tar --exclude=.git --exclude='./tmp_check' --exclude='./tmp_iso' --exclude='./results' --exclude='./output_regress' --exclude='./output_iso' --exclude='./tmp_releases' -cf - . | tar -C "$dest" -xf -
	# the sources of released versions, from git, for the upgrade test
	local version commit
	while read -r version commit; do
		case $version in '#'*|'') continue ;; esac
		mkdir -p "$dest/tmp_releases/$version"
		git archive "$commit" Makefile privacy_guard.control src sql | tar -C "$dest/tmp_releases/$version" -xf - ||
			echo "could not extract release $version ($commit) from git: the upgrade test will fail" >&2
	done < test/releases
	[ "$(id -u)" -eq 0 ] && chown -R "$PGUARD_USER" "$dest"
	chmod 755 "$dest"
	echo "$dest"
}

# Start a throwaway server in a new directory: sets SERVER_DIR and
# SERVER_PORT.  Extra postgresql.conf lines come as arguments.
start_server() {
	SERVER_PORT=$1
	shift
	SERVER_DIR=$(mktemp -d /tmp/privacy_guard-server.XXXXXX)
	chmod 755 "$SERVER_DIR"
	[ "$(id -u)" -eq 0 ] && chown "$PGUARD_USER" "$SERVER_DIR"
	local extra
	extra=$(printf '%s\n' "$@")
	as_user bash -c "
		set -e
		cd '$SERVER_DIR'
		umask 077
		echo \"1:\$(openssl rand -hex 32)\" > keyring
		initdb -D data -A trust -U postgres >/dev/null
		cat >> data/postgresql.conf <<CONF
shared_preload_libraries = 'privacy_guard'
privacy_guard.keyring_file = '$SERVER_DIR/keyring'
listen_addresses = ''
unix_socket_directories = '$SERVER_DIR'
port = $SERVER_PORT
$extra
CONF
		pg_ctl -D data -l server.log -w start >/dev/null
	"
}

stop_server() {
	[ -n "${SERVER_DIR:-}" ] || return 0
	as_user pg_ctl -D "$SERVER_DIR/data" -m fast stop >/dev/null 2>&1 || true
	rm -rf "$SERVER_DIR"
	SERVER_DIR=
}

# psql against the throwaway server, as its superuser.
server_psql() {
	as_user psql -X -q -h "$SERVER_DIR" -p "$SERVER_PORT" -U postgres -d postgres "$@"
}
