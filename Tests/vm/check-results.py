#!/usr/bin/env python3
"""Host side of the VM test: asserts the facts the guest wrote to its second serial port.

    Tests/vm/check-results.py RESULTS_FILE

Tests/vm/guest/run-scenarios.sh observes and writes "FACT name=value" lines; this script decides. Every
expectation below must hold, and the guest must have reached its end (done=1). Prints one line per
expectation and exits 1 if any fails.
"""
import re
import sys

STORAGE = "/srv/shop/exports"
OUTSIDE = "/srv/shop/outside"


def eq(expected):
    return (lambda v: v == expected, f"== {expected!r}")


def ne(unexpected):
    return (lambda v: v is not None and v != unexpected, f"!= {unexpected!r}")


def match(pattern):
    return (lambda v: v is not None and re.fullmatch(pattern, v) is not None, f"matches /{pattern}/")


def num(op, bound):
    ops = {">=": lambda a: a >= bound, "<=": lambda a: a <= bound, "==": lambda a: a == bound}

    def check(v):
        try:
            return ops[op](float(v))
        except (TypeError, ValueError):
            return False

    return (check, f"{op} {bound}")


SECONDS = match(r"\d+")  # a poll that finished (it says "timeout" otherwise)


def file_row(prefix, job, gone, status, kept_dir=STORAGE):
    """The job's file and row after a sweep: gone (file absent, file_path NULL) or kept."""
    if gone:
        return [(f"{prefix}_file_{job}", eq("absent")), (f"{prefix}_row_{job}", eq(f"{status}|NULL"))]
    return [(f"{prefix}_file_{job}", eq("present")),
            (f"{prefix}_row_{job}", match(re.escape(f"{status}|{kept_dir}/") + r"\w+_" + job + r"_\d{8}_\d{6}\.\w+"))]


EXPECTATIONS = [
    # boot and package installation
    ("boot_state", match(r"running|degraded")),
    ("install_rc", eq("0")),
    ("install_says_not_started", num(">=", 1)),
    ("install_user", eq("export-cleanup:/nonexistent:/usr/sbin/nologin")),
    ("install_unit_load", eq("loaded")),
    ("install_unit_file_state", eq("disabled")),
    ("install_unit_active", eq("inactive")),
    ("install_timer_file_state", eq("disabled")),
    ("install_exec_start", eq("path=/usr/bin/export-cleanup")),
    ("install_conffile", eq("/etc/export-cleanup/export-cleanup.conf")),
    ("install_binary_help", eq("0")),
    # operator setup through a drop-in
    ("dropin_group", eq("shop")),
    ("dropin_rwpaths", eq(f"{STORAGE} /srv/shop/db")),
    # RequiresMountsFor= cannot be reset in a drop-in on systemd 252: the package's /srv/app paths stay
    # listed (harmless: they only order the start after mounts of those paths, if any exist).
    ("dropin_mounts_for", match(rf"(?=.*(^| ){STORAGE}( |$))(?=.*(^| )/srv/shop/db( |$)).*")),
    ("dropin_sweep_rwpaths", eq(f"{STORAGE} /srv/shop/db")),
    ("verify_loaded_units", eq("0")),
    # pre-flight: exit 1 because one record is refused, the due ones listed
    ("preflight_rc", eq("1")),
    ("preflight_would_remove", eq("3")),
    ("preflight_writable", eq("yes")),
    # start, first sweep
    ("start_rc", eq("0")),
    ("start_idle_after_s", SECONDS),
    ("start_active", eq("active")),
    ("start_status_text", match(r"Idle\. Last sweep .*: 3 removed .*, 0 failed, 1 refused\..*")),
    ("start_main_pid_set", eq("yes")),
    ("start_cpu_weight", eq("10")),
    ("start_cgroup_cpu_weight", eq("10")),
    *file_row("first", "exp_aaa111", True, "expired"),
    *file_row("first", "exp_bbb222", True, "expired"),
    *file_row("first", "exp_ccc333", False, "completed"),
    *file_row("first", "exp_ddd444", False, "completed"),
    *file_row("first", "exp_eee555", True, "failed"),
    *file_row("first", "exp_fff666", False, "failed"),
    *file_row("first", "exp_ggg777", False, "processing"),
    *file_row("first", "exp_out999", False, "completed", OUTSIDE),
    # the journal's sweep summary
    ("summary_count", eq("1")),
    ("summary_EXPORT_REMOVED", eq("3")),
    ("summary_EXPORT_REFUSED", eq("1")),
    ("summary_EXPORT_FAILED", eq("0")),
    ("summary_EXPORT_UNDECIDABLE", eq("0")),
    ("summary_EXPORT_RECORDS_UPDATED", eq("3")),
    ("summary_EXPORT_DUE", num(">=", 3)),
    ("summary_EXPORT_BYTES_FREED", num(">=", 1)),
    ("summary_SWEEP_ID", match(r"\S+")),
    ("refused_entries", num(">=", 1)),
    # -p notice: only the daemon's own structured entries (no libdispatch syslog line), nothing of systemd's
    ("daemon_notice_foreign", eq("0")),
    ("daemon_notice_systemd", eq("0")),
    # sandbox
    ("sandbox_outside_file", eq("present")),
    ("sandbox_outside_row", match(re.escape(f"completed|{OUTSIDE}/") + r".*")),
    ("sandbox_write_outside_rc", ne("0")),
    ("sandbox_write_outside_error", eq("Read-only file system")),
    ("sandbox_write_etc_rc", ne("0")),
    ("sandbox_home_hidden", eq("0")),
    ("security_exposure", num("<=", 1.0)),
    ("security_exposure_sweep", num("<=", 1.0)),
    # reload
    ("reload_rc", eq("0")),
    ("reload_swept_after_s", SECONDS),
    ("reload_same_pid", eq("yes")),
    ("reload_active", eq("active")),
    ("reload_messages", num(">=", 1)),
    *file_row("reload", "exp_rel001", True, "expired"),
    # watchdog
    ("watchdog_usec", eq("6s")),
    ("watchdog_alive_pid_same", eq("yes")),
    ("watchdog_restarted_after_s", SECONDS),
    ("watchdog_nrestarts_delta", num(">=", 1)),
    ("watchdog_timeout_logged", num(">=", 1)),
    ("watchdog_active", eq("active")),
    # stop
    ("stop_rc", eq("0")),
    ("stop_active", eq("inactive")),
    ("stop_result", eq("success")),
    ("stop_exit_status", eq("0")),
    # broken configuration
    ("broken_start_rc", ne("0")),
    ("broken_active", eq("failed")),
    ("broken_substate", eq("failed")),
    ("broken_exit_status", eq("78")),
    ("broken_message", num(">=", 1)),
    ("broken_nrestarts_delta", eq("0")),
    # one-shot service and timer
    ("oneshot_refused_start_rc", ne("0")),
    ("oneshot_refused_result", eq("exit-code")),
    ("oneshot_refused_exit_status", eq("1")),
    *file_row("oneshot", "exp_tmr001", True, "expired"),
    ("timer_enable_rc", eq("0")),
    ("timer_ran_after_s", SECONDS),
    ("timer_result", eq("success")),
    ("timer_exit_status", eq("0")),
    ("timer_summary_count", num(">=", 2)),
    *file_row("timer", "exp_tmr002", True, "expired"),
    ("sweep_notice_foreign", eq("0")),
    # libdispatch's "Failed to set thread priority" (SystemCallFilter= answering setpriority with EPERM)
    ("thread_priority_messages", eq("0")),
    # upgrade, removal, purge
    ("upgrade_rc", eq("0")),
    ("upgrade_restarted", eq("yes")),
    ("upgrade_active", eq("active")),
    ("upgrade_conffile_kept", eq("1")),
    ("remove_rc", eq("0")),
    ("remove_active", eq("inactive")),
    ("remove_load", eq("not-found")),
    ("remove_binary", eq("absent")),
    ("remove_conffile", eq("present")),
    ("purge_rc", eq("0")),
    ("purge_conffile", eq("absent")),
    ("purge_user_kept", eq("yes")),
    ("final_files", match(r"cars_exp_ddd444_\d{8}_\d{6}\.csv,hotels_exp_ccc333_\d{8}_\d{6}\.xlsx,"
                          r"hotels_exp_fff666_\d{8}_\d{6}\.json,hotels_exp_ggg777_\d{8}_\d{6}\.csv")),
    ("done", eq("1")),
]


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    facts = {}
    with open(sys.argv[1], encoding="utf-8", errors="replace") as results:
        for line in results:
            line = line.rstrip("\r\n")
            if line.startswith("FACT ") and "=" in line:
                name, _, value = line[5:].partition("=")
                facts[name] = value
    failures = 0
    for name, (check, description) in EXPECTATIONS:
        value = facts.get(name)
        ok = value is not None and check(value)
        failures += not ok
        shown = "<missing>" if value is None else repr(value)
        print(f"{'ok  ' if ok else 'FAIL'} {name} = {shown}" + ("" if ok else f"  (expected {description})"))
    informational = sorted(set(facts) - {name for name, _ in EXPECTATIONS})
    for name in informational:
        print(f"info {name} = {facts[name]!r}")
    print(f"vm-test: {len(EXPECTATIONS) - failures} of {len(EXPECTATIONS)} expectations hold")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
