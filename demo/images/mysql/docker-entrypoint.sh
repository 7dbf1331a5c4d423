#!/bin/sh
# berth-demo/mariadb entrypoint: what the official mysql image's entrypoint does for Docker's
# workshop, for MariaDB from Debian. On an empty /var/lib/mysql it makes the system tables, sets
# the root password (MYSQL_ROOT_PASSWORD, MYSQL_ROOT_PASSWORD_FILE or MYSQL_ALLOW_EMPTY_PASSWORD),
# lets root in from any host and creates MYSQL_DATABASE and MYSQL_USER/MYSQL_PASSWORD; a datadir
# that already holds a database is used as it is. Then it runs mariadbd as user mysql on
# 0.0.0.0:3306. Arguments starting with '-' are passed on to mariadbd; any other command is run.
set -eu

log() { echo "$(date -u '+%Y-%m-%dT%H:%M:%SZ') [Entrypoint]: $*"; }
die() { log "error: $*" >&2; exit 1; }

if [ $# -eq 0 ] || [ "${1#-}" != "$1" ]; then set -- mariadbd "$@"; fi
case "$1" in
mariadbd | mysqld) shift; set -- mariadbd "$@" ;;
*) exec "$@" ;;
esac

# Values may come from files (Docker secrets), as the official image allows.
for var in MYSQL_ROOT_PASSWORD MYSQL_PASSWORD MYSQL_USER MYSQL_DATABASE; do
	eval "file=\${${var}_FILE:-}"
	if [ -n "$file" ]; then
		eval "[ -z \"\${$var:-}\" ]" || die "both $var and ${var}_FILE are set"
		eval "$var=\$(cat \"\$file\")" || die "cannot read ${var}_FILE $file"
	fi
done

datadir=/var/lib/mysql
mkdir -p /run/mysqld "$datadir"
chown mysql:mysql /run/mysqld "$datadir"

# Quote a value as an SQL string literal.
sqlstr() { printf "'%s'" "$(printf '%s' "$1" | sed -e "s/\\\\/\\\\\\\\/g" -e "s/'/''/g")"; }

if [ ! -d "$datadir/mysql" ]; then
	if [ -z "${MYSQL_ROOT_PASSWORD:-}" ] && [ -z "${MYSQL_ALLOW_EMPTY_PASSWORD:-}" ]; then
		die "the database is uninitialized and no password option is given: set MYSQL_ROOT_PASSWORD, MYSQL_ROOT_PASSWORD_FILE or MYSQL_ALLOW_EMPTY_PASSWORD"
	fi
	log "initializing the database in $datadir"
	mariadb-install-db --user=mysql --datadir="$datadir" --auth-root-authentication-method=normal \
		--skip-test-db --skip-name-resolve >/dev/null

	# A temporary server on a socket of its own, without networking: clients (and healthchecks
	# on the default socket) see no server until the real one runs.
	sock=/run/mysqld/init.sock
	mariadbd --user=mysql --datadir="$datadir" --skip-networking --socket="$sock" &
	pid=$!
	i=0
	until mariadb-admin --socket="$sock" -uroot ping >/dev/null 2>&1; do
		i=$((i + 1))
		[ "$i" -lt 60 ] || die "the temporary server did not start"
		kill -0 "$pid" 2>/dev/null || die "the temporary server exited"
		sleep 1
	done

	pw=$(sqlstr "${MYSQL_ROOT_PASSWORD:-}")
	{
		# mariadb-install-db also makes root@127.0.0.1, @::1 and @<hostname> without a password.
		echo "DROP USER IF EXISTS ''@'localhost', 'root'@'127.0.0.1', 'root'@'::1', 'root'@$(sqlstr "$(cat /proc/sys/kernel/hostname)");"
		echo "ALTER USER 'root'@'localhost' IDENTIFIED BY $pw;"
		echo "CREATE USER 'root'@'%' IDENTIFIED BY $pw;"
		echo "GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;"
		if [ -n "${MYSQL_DATABASE:-}" ]; then
			echo "CREATE DATABASE IF NOT EXISTS \`$MYSQL_DATABASE\`;"
		fi
		if [ -n "${MYSQL_USER:-}" ] && [ -n "${MYSQL_PASSWORD:-}" ]; then
			[ "$MYSQL_USER" != root ] || die "MYSQL_USER=root is not allowed: root is made from MYSQL_ROOT_PASSWORD"
			echo "CREATE USER $(sqlstr "$MYSQL_USER")@'%' IDENTIFIED BY $(sqlstr "$MYSQL_PASSWORD");"
			if [ -n "${MYSQL_DATABASE:-}" ]; then
				echo "GRANT ALL ON \`$MYSQL_DATABASE\`.* TO $(sqlstr "$MYSQL_USER")@'%';"
			fi
		fi
		echo "FLUSH PRIVILEGES;"
	} | mariadb --socket="$sock" -uroot --protocol=socket || die "setting up users and database failed"

	mariadb-admin --socket="$sock" -uroot --password="${MYSQL_ROOT_PASSWORD:-}" shutdown
	wait "$pid" || true
	log "database initialized${MYSQL_DATABASE:+, database $MYSQL_DATABASE created}"
else
	log "$datadir already holds a database: skipping initialization"
fi

log "starting mariadbd on 0.0.0.0:3306"
exec "$@" --user=mysql --datadir="$datadir" --bind-address=0.0.0.0 --port=3306
