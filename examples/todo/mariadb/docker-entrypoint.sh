#!/bin/sh
# Entrypoint of the todo example's MariaDB image (and of the workshop's mysql:8.0 in demo/): what
# the official mysql image's entrypoint does, for MariaDB from Debian.
#
# On an empty /var/lib/mysql it makes the system tables, then, on a temporary server that only
# listens on a socket of its own:
#   - sets root's password: MYSQL_ROOT_PASSWORD, or MYSQL_RANDOM_ROOT_PASSWORD=yes (printed once),
#     or none with MYSQL_ALLOW_EMPTY_PASSWORD=yes; root may log in from MYSQL_ROOT_HOST
#     (default %, any host) as well as from localhost;
#   - creates MYSQL_DATABASE, and MYSQL_USER with MYSQL_PASSWORD, who gets all rights on it;
#   - runs /docker-entrypoint-initdb.d/* in name order: *.sql and *.sql.gz as root in
#     MYSQL_DATABASE (if set), *.sh executed when executable and sourced when not, others ignored.
#     Scripts reach the temporary server with the plain client (an option file in MARIADB_HOME
#     names its socket) and sourced ones may call `process_sql [mariadb options]` to run SQL from stdin as root.
# Each of these variables may instead be read from a file named by VAR_FILE (Docker secrets).
# A datadir that already holds a database is used as it is, and nothing above runs again.
# Then it runs mariadbd as user mysql on 0.0.0.0:3306. Arguments starting with '-' are passed on
# to mariadbd; any other command is run as it is.
set -eu

log() { echo "$(date -u '+%Y-%m-%dT%H:%M:%SZ') [Entrypoint]: $*"; }
warn() { log "warning: $*" >&2; }
die() { log "error: $*" >&2; exit 1; }

if [ $# -eq 0 ] || [ "${1#-}" != "$1" ]; then set -- mariadbd "$@"; fi
case "$1" in
mariadbd | mysqld) shift; set -- mariadbd "$@" ;;
*) exec "$@" ;;
esac

# Values may come from files (Docker secrets), as the official image allows.
for var in MYSQL_ROOT_PASSWORD MYSQL_PASSWORD MYSQL_USER MYSQL_DATABASE MYSQL_ROOT_HOST \
	MYSQL_ALLOW_EMPTY_PASSWORD MYSQL_RANDOM_ROOT_PASSWORD; do
	eval "file=\${${var}_FILE:-}"
	if [ -n "$file" ]; then
		eval "[ -z \"\${$var:-}\" ]" || die "both $var and ${var}_FILE are set"
		[ -r "$file" ] || die "cannot read ${var}_FILE $file"
		eval "$var=\$(cat \"\$file\")"
		# Exported, as the official image does, so that init scripts see the value too.
		export "${var?}"
	fi
	unset "${var}_FILE"
done

datadir=/var/lib/mysql
mkdir -p /run/mysqld "$datadir"
chown mysql:mysql /run/mysqld "$datadir"

# Quote a value as an SQL string literal, and as an identifier.
sqlstr() { printf "'%s'" "$(printf '%s' "$1" | sed -e "s/\\\\/\\\\\\\\/g" -e "s/'/''/g")"; }
# shellcheck disable=SC2016 # backquotes, not command substitution
sqlid() { printf '`%s`' "$(printf '%s' "$1" | sed -e 's/`/``/g')"; }

# A true value in the official image's sense: any non-empty value.
is_set() { [ -n "${1:-}" ]; }

# process_sql [OPTIONS]: runs the SQL on stdin as root on the temporary server.
process_sql() {
	MYSQL_PWD=${MYSQL_ROOT_PASSWORD:-} mariadb --protocol=socket --socket="$sock" -uroot "$@"
}

# run_initdb: the init scripts, in name order, once.
run_initdb() {
	for f in /docker-entrypoint-initdb.d/*; do
		[ -e "$f" ] || continue
		case "$f" in
		*.sh)
			if [ -x "$f" ]; then
				log "running $f"
				"$f" || die "$f failed"
			else
				log "sourcing $f"
				# shellcheck disable=SC1090 # the user's script
				. "$f"
			fi
			;;
		*.sql)
			log "running $f"
			process_sql ${MYSQL_DATABASE:+"$MYSQL_DATABASE"} <"$f" || die "$f failed"
			;;
		*.sql.gz)
			log "running $f"
			gzip -dc "$f" | process_sql ${MYSQL_DATABASE:+"$MYSQL_DATABASE"} || die "$f failed"
			;;
		*) log "ignoring $f" ;;
		esac
	done
}

if [ ! -d "$datadir/mysql" ]; then
	if ! is_set "${MYSQL_ROOT_PASSWORD:-}" && ! is_set "${MYSQL_ALLOW_EMPTY_PASSWORD:-}" && ! is_set "${MYSQL_RANDOM_ROOT_PASSWORD:-}"; then
		die "the database is uninitialized and no password option is given: set one of MYSQL_ROOT_PASSWORD, MYSQL_ALLOW_EMPTY_PASSWORD or MYSQL_RANDOM_ROOT_PASSWORD (or MYSQL_ROOT_PASSWORD_FILE)"
	fi
	if is_set "${MYSQL_USER:-}" && [ "$MYSQL_USER" = root ]; then
		die "MYSQL_USER=root is not allowed: root is made from MYSQL_ROOT_PASSWORD"
	fi
	if is_set "${MYSQL_RANDOM_ROOT_PASSWORD:-}" && ! is_set "${MYSQL_ROOT_PASSWORD:-}"; then
		MYSQL_ROOT_PASSWORD=$(tr -dc 'A-Za-z0-9' </dev/urandom | head -c 32)
		log "GENERATED ROOT PASSWORD: $MYSQL_ROOT_PASSWORD"
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
	roothost=${MYSQL_ROOT_HOST:-%}
	{
		# mariadb-install-db also makes root@127.0.0.1, @::1 and @<hostname> without a password.
		echo "DROP USER IF EXISTS ''@'localhost', 'root'@'127.0.0.1', 'root'@'::1', 'root'@$(sqlstr "$(cat /proc/sys/kernel/hostname)");"
		echo "ALTER USER 'root'@'localhost' IDENTIFIED BY $pw;"
		if [ "$roothost" != localhost ]; then
			echo "CREATE USER 'root'@$(sqlstr "$roothost") IDENTIFIED BY $pw;"
			echo "GRANT ALL ON *.* TO 'root'@$(sqlstr "$roothost") WITH GRANT OPTION;"
		fi
		if is_set "${MYSQL_DATABASE:-}"; then
			echo "CREATE DATABASE IF NOT EXISTS $(sqlid "$MYSQL_DATABASE");"
		fi
		if is_set "${MYSQL_USER:-}" && is_set "${MYSQL_PASSWORD:-}"; then
			echo "CREATE USER $(sqlstr "$MYSQL_USER")@'%' IDENTIFIED BY $(sqlstr "$MYSQL_PASSWORD");"
			if is_set "${MYSQL_DATABASE:-}"; then
				echo "GRANT ALL ON $(sqlid "$MYSQL_DATABASE").* TO $(sqlstr "$MYSQL_USER")@'%';"
			fi
		fi
		echo "FLUSH PRIVILEGES;"
	} | mariadb --socket="$sock" -uroot --protocol=socket || die "setting up users and database failed"
	if is_set "${MYSQL_USER:-}" && ! is_set "${MYSQL_PASSWORD:-}"; then
		warn "MYSQL_USER is set but MYSQL_PASSWORD is not: user $MYSQL_USER was not created"
	elif is_set "${MYSQL_PASSWORD:-}" && ! is_set "${MYSQL_USER:-}"; then
		warn "MYSQL_PASSWORD is set but MYSQL_USER is not: it is not used"
	fi

	# The client tools find the temporary server through an option file in MARIADB_HOME, which
	# only the init scripts' environment names (MYSQL_UNIX_PORT for libmysqlclient's clients).
	mkdir -p /run/mysqld/init
	printf '[client]\nsocket=%s\n' "$sock" >/run/mysqld/init/my.cnf
	MARIADB_HOME=/run/mysqld/init MYSQL_HOME=/run/mysqld/init MYSQL_UNIX_PORT=$sock
	export MARIADB_HOME MYSQL_HOME MYSQL_UNIX_PORT
	run_initdb
	unset MARIADB_HOME MYSQL_HOME MYSQL_UNIX_PORT
	rm -rf /run/mysqld/init

	MYSQL_PWD=${MYSQL_ROOT_PASSWORD:-} mariadb-admin --socket="$sock" -uroot shutdown
	wait "$pid" || true
	log "database initialized${MYSQL_DATABASE:+, database $MYSQL_DATABASE created}"
else
	log "$datadir already holds a database: skipping initialization"
fi

log "starting mariadbd on 0.0.0.0:3306"
exec "$@" --user=mysql --datadir="$datadir" --bind-address=0.0.0.0 --port=3306
