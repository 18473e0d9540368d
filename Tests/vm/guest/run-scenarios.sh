#!/bin/bash
# Runs INSIDE the test VM, as root under the VM's systemd (export-cleanup-vmtest.service), after boot.
# scripts/vm-test.sh builds the VM and copies this directory to /root/vmtest with the .deb.
#
# It installs the package, sets up an application the way docs/INSTALL.md tells operators to (a database
# and an exports directory owned by the user "shop", shared through the group "shop", at paths other than
# the units' defaults), then drives systemd through the scenarios below. It judges nothing: every
# observation is written as "FACT name=value" to the second serial port (/dev/ttyS1), which the host
# saves to a file; Tests/vm/check-results.py asserts on it. Diagnostics go to the console (ttyS0).
# The last fact is done=1; then the VM powers off.
set -u
export LC_ALL=C.UTF-8 SYSTEMD_PAGER= SYSTEMD_COLORS=0
cd /root/vmtest || exit 1

UNIT=export-cleanup.service
SWEEP_UNIT=export-cleanup-sweep.service
TIMER=export-cleanup-sweep.timer
CONF=/etc/export-cleanup/export-cleanup.conf
APP=/srv/shop
STORAGE=$APP/exports
DBDIR=$APP/db
DB=$DBDIR/shop.db
OUTSIDE=$APP/outside
SUMMARY_ID=e5e1ef97a9b44505b65864f6c0bc13b1
RELOAD_ID=3e043dbbd36c48be94dfad3df447675f

stty -F /dev/ttyS1 raw -echo 2>/dev/null || true
exec 3>/dev/ttyS1

fact() { # name value (one line)
    local value=${2//$'\n'/ \\n }
    printf 'FACT %s=%s\n' "$1" "$value" >&3
    printf 'FACT %s=%s\n' "$1" "$value"
}
say() { printf '\n==== %s\n' "$*"; }
show() { systemctl show -P "$2" "$1" 2>/dev/null; }
finish() {
    local rc=$?
    fact runner_exit "$rc"
    say "journal of the export-cleanup units"
    journalctl -b --no-pager -o short-precise -u "$UNIT" -u "$SWEEP_UNIT" -u "$TIMER" | tail -n 200
    fact done 1
    sync
    systemctl poweroff --no-block
}
trap finish EXIT

# poll SECONDS COMMAND...: runs COMMAND every 0.5 s until it succeeds; prints the seconds waited.
poll() {
    local limit=$1 start=$SECONDS; shift
    while ! "$@"; do
        if (( SECONDS - start >= limit )); then echo "timeout"; return 1; fi
        sleep 0.5
    done
    echo "$(( SECONDS - start ))"
}

sql() { runuser -u shop -- sqlite3 -batch "$DB" "$@"; }
ts() { date -u -d "$1" '+%Y-%m-%d %H:%M:%S.%6N'; }     # SQLAlchemy's datetime text, UTC
row() { sql "SELECT status || '|' || ifnull(file_path, 'NULL') FROM export_jobs WHERE id = '$1'"; }
present() { if [ -e "$1" ]; then echo present; else echo absent; fi; }

declare -A PATHS
# job ID TYPE FORMAT STATUS CREATED COMPLETED EXPIRES DIR: a row and (unless DIR is "-") its 0600 file
# named {type}_{id}_{created as YYYYMMDD_HHMMSS}.{format}. Times are `date -d` offsets, or "" for NULL.
job() {
    local id=$1 type=$2 format=$3 status=$4 created=$5 completed=$6 expires=$7 dir=$8
    local name path=NULL size=NULL c e
    name="${type}_${id}_$(date -u -d "$created" +%Y%m%d_%H%M%S).$format"
    if [ "$dir" != - ]; then
        path="$dir/$name"
        runuser -u shop -- sh -c "umask 077 && printf '%s\n' 'id,hotel,nights' '1,Example,3' > '$path'"
        size=$(stat -c %s "$path")
        path="'$path'"
    fi
    PATHS[$id]="$dir/$name"
    c=NULL; [ -n "$completed" ] && c="'$(ts "$completed")'"
    e=NULL; [ -n "$expires" ] && e="'$(ts "$expires")'"
    sql "INSERT INTO export_jobs (id, export_type, format, status, file_path, file_size_bytes, created_at,
         completed_at, expires_at, error_message) VALUES ('$id', '$type', '$format', '$status', $path, $size,
         '$(ts "$created")', $c, $e, $( [ "$status" = failed ] && echo "'timeout'" || echo NULL ))"
}

# Facts about every job: its file and its row.
jobs_facts() { # prefix id...
    local prefix=$1 id; shift
    for id in "$@"; do
        fact "${prefix}_file_$id" "$(present "${PATHS[$id]}")"
        fact "${prefix}_row_$id" "$(row "$id")"
    done
}

# Journal entries of UNIT at notice level or more important: how many there are, how many come from
# systemd itself (PID 1, about the unit), and how many come from the unit's processes but not from the
# daemon's structured logger (no CODE_FILE field), e.g. libdispatch writing to syslog(3). JSON output is
# one line per entry whatever the fields hold.
notice_facts() { # prefix unit
    local prefix=$1 unit=$2 entries
    journalctl -b --no-pager -u "$unit" -p notice -o short-precise | tail -n 40
    entries=$(journalctl -b --no-pager -u "$unit" -p notice -o json --output-fields=CODE_FILE,_PID,MESSAGE)
    fact "${prefix}_notice_entries" "$(grep -c . <<< "$entries")"
    fact "${prefix}_notice_systemd" "$(grep -c '"_PID" *: *"1"' <<< "$entries")"
    fact "${prefix}_notice_foreign" "$(grep -v '"_PID" *: *"1"' <<< "$entries" | grep -c -v '"CODE_FILE"')"
}

summary_field() { # field: from the newest sweep summary of the daemon
    journalctl -b --no-pager -u "$UNIT" MESSAGE_ID=$SUMMARY_ID -o verbose -n 1 |
        sed -n "s/^ *$1=//p" | head -n 1
}
summary_count() { journalctl -b --no-pager -u "${1:-$UNIT}" MESSAGE_ID=$SUMMARY_ID -o cat | wc -l; }

idle() { [[ $(show $UNIT StatusText) == Idle* ]]; }
sweeps_at_least() { (( $(summary_count) >= $1 )); }

# ------------------------------------------------------------------------------------------------------
say "boot"
fact boot_state "$(systemctl is-system-running --wait 2>&1)"
fact systemd_version "$(systemctl --version | sed -n '1s/^systemd \([0-9]*\).*/\1/p')"
fact kernel "$(uname -r)"
systemctl --failed --no-legend

# ------------------------------------------------------------------------------------------------------
say "install: apt-get install ./export-cleanup_*.deb (docs/INSTALL.md, first way)"
deb=$(ls /root/vmtest/export-cleanup_*.deb | head -n 1)
out=$(apt-get install -y --no-install-recommends "$deb" 2>&1); rc=$?
printf '%s\n' "$out" | tail -n 20
fact install_rc "$rc"
fact install_says_not_started "$(grep -c 'NOT enabled or started' <<< "$out")"
fact install_user "$(getent passwd export-cleanup | cut -d: -f1,6,7)"
fact install_unit_load "$(show $UNIT LoadState)"
fact install_unit_file_state "$(show $UNIT UnitFileState)"
fact install_unit_active "$(show $UNIT ActiveState)"
fact install_timer_file_state "$(show $TIMER UnitFileState)"
fact install_exec_start "$(show $UNIT ExecStart | grep -o 'path=[^ ;]*')"
fact install_conffile "$(dpkg-query -W -f='${Conffiles}' export-cleanup | awk 'NF { print $1 }')"
fact install_binary_help "$(export-cleanup --help > /dev/null 2>&1; echo $?)"
fact install_catalog "$(present /usr/lib/systemd/catalog/export-cleanup.catalog)"

# ------------------------------------------------------------------------------------------------------
say "operator setup: the application's user and group, its database and exports (docs/INSTALL.md 3-6)"
groupadd --system shop
useradd --system --gid shop --home-dir $APP --no-create-home --shell /usr/sbin/nologin shop
install -d -o shop -g shop -m 0755 $APP
# Group rwx, setgid, no sticky bit, as INSTALL.md step 4 asks; "outside" is the application's too (the
# group may write it), but it is not in ReadWritePaths=: the sandbox must keep it read-only.
install -d -o shop -g shop -m 2770 $STORAGE $DBDIR $OUTSIDE
usermod -a -G shop export-cleanup
runuser -u shop -- sqlite3 -batch "$DB" <<'SQL'
CREATE TABLE export_jobs (id VARCHAR(50) NOT NULL, export_type VARCHAR(50) NOT NULL, format VARCHAR(10) NOT NULL, status VARCHAR(20) NOT NULL, file_path VARCHAR(500), file_size_bytes INTEGER, created_at DATETIME NOT NULL, completed_at DATETIME, expires_at DATETIME, error_message TEXT, PRIMARY KEY (id));
CREATE INDEX ix_export_jobs_completed_at ON export_jobs (completed_at);
CREATE INDEX ix_export_jobs_status ON export_jobs (status);
SQL
chmod g+rw "$DB"

#   id          type      fmt   status      created       completed     expires        dir
job exp_aaa111  hotels    csv   completed   "-31 hours"   "-30 hours"   ""             $STORAGE  # due
job exp_bbb222  flights   json  completed   "-31 hours"   "-30 hours"   "-20 hours"    $STORAGE  # due
job exp_ccc333  hotels    xlsx  completed   "-3 hours"    "-2 hours"    ""             $STORAGE  # kept: retention
job exp_ddd444  cars      csv   completed   "-31 hours"   "-30 hours"   "+10 hours"    $STORAGE  # kept: expires_at
job exp_eee555  hotels    csv   failed      "-3 hours"    ""            ""             $STORAGE  # due (failed age)
job exp_fff666  hotels    json  failed      "-10 minutes" ""            ""             $STORAGE  # kept: too young
job exp_ggg777  hotels    csv   processing  "-40 hours"   ""            ""             $STORAGE  # never touched
job exp_out999  hotels    csv   completed   "-31 hours"   "-30 hours"   ""             $OUTSIDE  # refused: outside
ALL_JOBS=(exp_aaa111 exp_bbb222 exp_ccc333 exp_ddd444 exp_eee555 exp_fff666 exp_ggg777 exp_out999)
ls -la $STORAGE $OUTSIDE $DBDIR
sql "SELECT * FROM export_jobs"

# The configuration (step 5) and the unit's adaptation through a drop-in, as `systemctl edit` writes it
# (step 6): list settings are reset first, or the package's /srv/app paths would stay in them.
sed -i -e "s|^#EXPORT_STORAGE_PATH=.*|EXPORT_STORAGE_PATH=$STORAGE|" \
       -e "s|^#EXPORT_CLEANUP_DATABASE=.*|EXPORT_CLEANUP_DATABASE=$DB|" $CONF
grep -E '^[A-Z]' $CONF
for unit in $UNIT $SWEEP_UNIT; do
    mkdir -p /etc/systemd/system/$unit.d
    cat > /etc/systemd/system/$unit.d/override.conf <<EOF
[Unit]
RequiresMountsFor=
RequiresMountsFor=$STORAGE $DBDIR

[Service]
Group=shop
ReadWritePaths=
ReadWritePaths=$STORAGE $DBDIR
EOF
done
systemctl daemon-reload
fact dropin_group "$(show $UNIT Group)"
fact dropin_rwpaths "$(show $UNIT ReadWritePaths)"
fact dropin_mounts_for "$(show $UNIT RequiresMountsFor)"
fact dropin_sweep_rwpaths "$(show $SWEEP_UNIT ReadWritePaths)"
systemd-analyze verify $UNIT $SWEEP_UNIT $TIMER 2>&1 | grep -v 'time-sync.target' | head -n 20
fact verify_loaded_units "$(systemd-analyze verify $UNIT $SWEEP_UNIT $TIMER 2>&1 | grep -c export-cleanup)"

say "pre-flight check as the service user (step 5)"
out=$(runuser -u export-cleanup -- export-cleanup sweep --config $CONF --dry-run 2>&1); rc=$?
printf '%s\n' "$out"
fact preflight_rc "$rc"
fact preflight_would_remove "$(grep -c '^would remove' <<< "$out")"
fact preflight_writable "$(runuser -u export-cleanup -- test -w $STORAGE -a -w $DBDIR -a -w $DB && echo yes || echo no)"

# ------------------------------------------------------------------------------------------------------
say "start: systemctl start export-cleanup"
systemctl reset-failed $UNIT 2>/dev/null
systemctl start $UNIT; fact start_rc "$?"
fact start_idle_after_s "$(poll 60 idle)"
systemctl status --no-pager $UNIT | head -n 12
fact start_active "$(show $UNIT ActiveState)"
fact start_status_text "$(show $UNIT StatusText)"
MAINPID=$(show $UNIT MainPID)
fact start_main_pid_set "$([ "${MAINPID:-0}" -gt 0 ] && echo yes || echo no)"
fact start_cpu_weight "$(show $UNIT CPUWeight)"
fact start_cgroup_cpu_weight "$(cat /sys/fs/cgroup/system.slice/$UNIT/cpu.weight 2>/dev/null || echo none)"
fact start_nice "$(ps -o ni= -p "$MAINPID" | tr -d ' ')"
fact start_thread_nice "$(ps -L -o ni= -p "$MAINPID" | sort -n | uniq | tr -d ' ' | paste -sd, -)"
jobs_facts first "${ALL_JOBS[@]}"
fact first_outside_file "$(present "${PATHS[exp_out999]}")"

say "journal: the sweep summary"
journalctl -b --no-pager -u $UNIT MESSAGE_ID=$SUMMARY_ID -o verbose | tail -n 40
fact summary_count "$(summary_count)"
for field in EXPORT_DUE EXPORT_REMOVED EXPORT_ALREADY_MISSING EXPORT_FAILED EXPORT_REFUSED EXPORT_UNDECIDABLE \
             EXPORT_BYTES_FREED EXPORT_RECORDS_UPDATED SWEEP_ID; do
    fact "summary_$field" "$(summary_field $field)"
done
fact refused_entries "$(journalctl -b --no-pager -u $UNIT MESSAGE_ID=7c9da5eb0b964d8aa5813c1b5ab69fb7 EXPORT_JOB_ID=exp_out999 -o cat | wc -l)"
notice_facts daemon $UNIT

# ------------------------------------------------------------------------------------------------------
say "sandbox"
fact sandbox_outside_file "$(present "${PATHS[exp_out999]}")"
fact sandbox_outside_row "$(row exp_out999)"
# In the daemon's own mount namespace even root cannot write outside ReadWritePaths=.
out=$(nsenter -t "$MAINPID" -m -- sh -c "echo x > $OUTSIDE/probe" 2>&1); rc=$?
fact sandbox_write_outside_rc "$rc"
fact sandbox_write_outside_error "$(grep -o 'Read-only file system' <<< "$out" | head -n 1)"
fact sandbox_write_etc_rc "$(nsenter -t "$MAINPID" -m -- sh -c 'echo x > /etc/probe' 2>/dev/null; echo $?)"
fact sandbox_home_hidden "$(nsenter -t "$MAINPID" -m -- sh -c 'ls -A /root | wc -l')"
out=$(systemd-analyze security --no-pager $UNIT 2>&1)
printf '%s\n' "$out" | grep -v '^ *✓' | tail -n 15
fact security_exposure "$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9][0-9.]*\).*/\1/p' <<< "$out")"
out=$(systemd-analyze security --no-pager $SWEEP_UNIT 2>&1)
fact security_exposure_sweep "$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9][0-9.]*\).*/\1/p' <<< "$out")"

# ------------------------------------------------------------------------------------------------------
say "reload: systemctl reload sweeps at once, same process"
job exp_rel001 hotels csv completed "-31 hours" "-30 hours" "" $STORAGE
systemctl reload $UNIT; fact reload_rc "$?"
fact reload_swept_after_s "$(poll 60 sweeps_at_least 2)"
fact reload_idle_after_s "$(poll 30 idle)"
fact reload_same_pid "$([ "$(show $UNIT MainPID)" = "$MAINPID" ] && echo yes || echo no)"
fact reload_active "$(show $UNIT ActiveState)"
fact reload_messages "$(journalctl -b --no-pager -u $UNIT MESSAGE_ID=$RELOAD_ID -o cat | wc -l)"
jobs_facts reload exp_rel001

# ------------------------------------------------------------------------------------------------------
say "watchdog: a frozen daemon is killed and restarted"
mkdir -p /etc/systemd/system/$UNIT.d
printf '[Service]\nWatchdogSec=6s\nRestartSec=1s\n' > /etc/systemd/system/$UNIT.d/zz-vmtest-watchdog.conf
systemctl daemon-reload
systemctl reset-failed $UNIT 2>/dev/null
systemctl restart $UNIT
poll 60 idle > /dev/null
fact watchdog_usec "$(show $UNIT WatchdogUSec)"
pid=$(show $UNIT MainPID)
restarts=$(show $UNIT NRestarts)
sleep 10    # longer than WatchdogSec: a daemon that pings keeps running
fact watchdog_alive_pid_same "$([ "$(show $UNIT MainPID)" = "$pid" ] && echo yes || echo no)"
since=$(date '+%Y-%m-%d %H:%M:%S')
kill -STOP "$pid"
restarted() { local p; p=$(show $UNIT MainPID); [ "$p" != "$pid" ] && [ "$p" != 0 ] && [ "$(show $UNIT ActiveState)" = active ]; }
fact watchdog_restarted_after_s "$(poll 120 restarted)"
fact watchdog_nrestarts_delta "$(( $(show $UNIT NRestarts) - restarts ))"
fact watchdog_timeout_logged "$(journalctl -b --no-pager -u $UNIT --since "$since" -o cat | grep -c 'Watchdog timeout')"
poll 60 idle > /dev/null
fact watchdog_active "$(show $UNIT ActiveState)"
rm /etc/systemd/system/$UNIT.d/zz-vmtest-watchdog.conf
systemctl daemon-reload
systemctl reset-failed $UNIT 2>/dev/null
systemctl restart $UNIT
poll 60 idle > /dev/null

# ------------------------------------------------------------------------------------------------------
say "stop"
systemctl stop $UNIT; fact stop_rc "$?"
fact stop_active "$(show $UNIT ActiveState)"
fact stop_result "$(show $UNIT Result)"
fact stop_exit_status "$(show $UNIT ExecMainStatus)"

# ------------------------------------------------------------------------------------------------------
say "broken configuration: the start fails naming file:line, no restart loop"
cp $CONF /root/vmtest/conf.good
echo 'EXPORT_CLEANUP_RETENTION_HOUR=24' >> $CONF
bad_line=$(wc -l < $CONF)
since=$(date '+%Y-%m-%d %H:%M:%S')
systemctl reset-failed $UNIT 2>/dev/null
restarts=$(show $UNIT NRestarts)
systemctl start $UNIT; fact broken_start_rc "$?"
sleep 3
fact broken_active "$(show $UNIT ActiveState)"
fact broken_substate "$(show $UNIT SubState)"
fact broken_exit_status "$(show $UNIT ExecMainStatus)"
fact broken_message "$(journalctl -b --no-pager -u $UNIT --since "$since" -o cat | grep -c -F "$CONF:$bad_line:")"
journalctl -b --no-pager -u $UNIT --since "$since" -o cat | head -n 10
# A restart would show as SubState=auto-restart (then activating) until RestartSec=30s passes.
fact broken_nrestarts_delta "$(( $(show $UNIT NRestarts) - restarts ))"
cp /root/vmtest/conf.good $CONF
systemctl reset-failed $UNIT

# ------------------------------------------------------------------------------------------------------
say "one-shot: export-cleanup-sweep.service and its timer"
job exp_tmr001 hotels csv completed "-31 hours" "-30 hours" "" $STORAGE
# With the refused record still there: the sweep runs, and the unit fails on purpose (exit 1).
systemctl start $SWEEP_UNIT; fact oneshot_refused_start_rc "$?"
fact oneshot_refused_result "$(show $SWEEP_UNIT Result)"
fact oneshot_refused_exit_status "$(show $SWEEP_UNIT ExecMainStatus)"
jobs_facts oneshot exp_tmr001
systemctl reset-failed $SWEEP_UNIT
# Without it, started by the timer (made to fire 2 s after it starts).
sql "DELETE FROM export_jobs WHERE id = 'exp_out999'"
job exp_tmr002 flights csv completed "-31 hours" "-30 hours" "" $STORAGE
mkdir -p /etc/systemd/system/$TIMER.d
printf '[Timer]\nOnActiveSec=2s\nRandomizedDelaySec=0\nAccuracySec=1s\n' > /etc/systemd/system/$TIMER.d/zz-vmtest.conf
systemctl daemon-reload
before=$(show $SWEEP_UNIT ExecMainExitTimestampMonotonic)
systemctl enable --now $TIMER; fact timer_enable_rc "$?"
ran() { local t; t=$(show $SWEEP_UNIT ExecMainExitTimestampMonotonic); [ "$t" != "$before" ] && [ "$t" != 0 ] && [ "$(show $SWEEP_UNIT ActiveState)" != activating ]; }
fact timer_ran_after_s "$(poll 120 ran)"
fact timer_result "$(show $SWEEP_UNIT Result)"
fact timer_exit_status "$(show $SWEEP_UNIT ExecMainStatus)"
fact timer_summary_count "$(summary_count $SWEEP_UNIT)"
jobs_facts timer exp_tmr002
systemctl list-timers --all --no-pager $TIMER
notice_facts sweep $SWEEP_UNIT
systemctl disable --now $TIMER
rm -r /etc/systemd/system/$TIMER.d
systemctl daemon-reload

# ------------------------------------------------------------------------------------------------------
say "libdispatch's setpriority message: never from the units"
journalctl -b --no-pager -o short-precise | grep 'Failed to set thread priority'
fact thread_priority_messages "$(journalctl -b --no-pager -o cat -u $UNIT -u $SWEEP_UNIT | grep -c 'Failed to set thread priority')"
# Outside the units (the pre-flight check run with runuser, nice 0, cannot lower its nice value to -4),
# libdispatch still says it: not ours to change, shown for information.
fact thread_priority_messages_outside_units "$(journalctl -b --no-pager -o cat | grep -c 'Failed to set thread priority')"

# ------------------------------------------------------------------------------------------------------
say "package upgrade restarts a running daemon; removal stops it; purge removes the configuration"
systemctl reset-failed $UNIT 2>/dev/null
systemctl start $UNIT
poll 60 idle > /dev/null
pid=$(show $UNIT MainPID)
dpkg -i "$deb" > /root/vmtest/upgrade.log 2>&1; fact upgrade_rc "$?"
fact upgrade_restarted "$([ "$(show $UNIT MainPID)" != "$pid" ] && echo yes || echo no)"
fact upgrade_active "$(show $UNIT ActiveState)"
fact upgrade_conffile_kept "$(grep -c "^EXPORT_STORAGE_PATH=$STORAGE\$" $CONF)"
apt-get remove -y export-cleanup > /root/vmtest/remove.log 2>&1; fact remove_rc "$?"
tail -n 5 /root/vmtest/remove.log
fact remove_active "$(show $UNIT ActiveState)"
fact remove_load "$(show $UNIT LoadState)"
fact remove_binary "$(present /usr/bin/export-cleanup)"
fact remove_conffile "$(present $CONF)"
apt-get purge -y export-cleanup > /root/vmtest/purge.log 2>&1; fact purge_rc "$?"
fact purge_conffile "$(present $CONF)"
fact purge_user_kept "$(getent passwd export-cleanup > /dev/null && echo yes || echo no)"
fact final_files "$(ls $STORAGE | sort | paste -sd, -)"
