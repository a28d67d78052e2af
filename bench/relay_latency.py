#!/usr/bin/env python3
"""relay_latency.py - helper of bench/relay.sh (python3 standard library only).

  relay_latency.py poll CONTROL_PORT OUT INTERVAL
      GET /api/v1/queue every INTERVAL seconds until SIGTERM; one line per
      sample to OUT: "wall messages queued sending deferred connections
      jobs_waiting delivered deferred_total bounced" (or "wall error TEXT").
  relay_latency.py drain CONTROL_PORT MSGS TIMEOUT
      waits until the queue holds no message and totals delivered+bounced
      >= MSGS; prints the wall time it saw that; exit 1 on timeout.
  relay_latency.py stats KEY=VALUE...
      one run's figures (from the SQLite store, the poll file, smtp-sink's
      -c counters, ...) appended as one JSON line to runs=FILE.
  relay_latency.py report RUNS META OUT_MD
      renders the markdown section; also printed to stdout.
"""
import calendar
import json
import os
import signal
import sqlite3
import statistics
import sys
import time
import urllib.request


def get_queue(port, timeout=2.0):
    with urllib.request.urlopen("http://127.0.0.1:%s/api/v1/queue" % port, timeout=timeout) as r:
        return json.load(r)


def cmd_poll(port, out, interval):
    interval = float(interval)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    with open(out, "w", buffering=1) as f:
        nxt = time.time()
        while not stop:
            t = time.time()
            try:
                q = get_queue(port)
                r, tot = q.get("recipients", {}), q.get("totals", {})
                f.write("%.3f %d %d %d %d %d %d %d %d %d\n" % (
                    t, q.get("messages", -1), r.get("queued", -1), r.get("sending", -1), r.get("deferred", -1),
                    q.get("connections", -1), q.get("jobs_waiting", -1), tot.get("delivered", -1),
                    tot.get("deferred", -1), tot.get("bounced", -1)))
            except Exception as e:  # noqa: BLE001 - recorded, the run goes on
                f.write("%.3f error %s\n" % (t, str(e).replace("\n", " ")[:200]))
            nxt += interval
            delay = nxt - time.time()
            if delay > 0:
                time.sleep(delay)
            else:
                nxt = time.time()


def cmd_drain(port, msgs, timeout):
    msgs, deadline = int(msgs), time.monotonic() + float(timeout)
    last = None
    while time.monotonic() < deadline:
        try:
            q = last = get_queue(port)
            tot = q.get("totals", {})
            if q.get("messages", 1) == 0 and tot.get("delivered", 0) + tot.get("bounced", 0) >= msgs:
                print("%.6f" % time.time())
                return 0
        except Exception as e:  # noqa: BLE001
            last = {"error": str(e)}
        time.sleep(0.02)
    sys.stderr.write("queue not drained after %s s: %s\n" % (timeout, json.dumps(last)))
    return 1


def iso_to_unix(s):
    # "2026-11-25T10:57:41.630Z"
    base, frac = s.rstrip("Z").split(".") if "." in s else (s.rstrip("Z"), "0")
    return calendar.timegm(time.strptime(base, "%Y-%m-%dT%H:%M:%S")) + float("0." + frac)


def pct(sorted_vals, p):
    """Nearest-rank percentile of a sorted list."""
    if not sorted_vals:
        return None
    k = max(1, int(-(-p * len(sorted_vals) // 100)))  # ceil(p/100 * n)
    return sorted_vals[min(k, len(sorted_vals)) - 1]


def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def cmd_stats(args):
    a = dict(x.split("=", 1) for x in args)
    msgs = int(a["msgs"])
    rec = {k: a.get(k) for k in ("tag", "col", "client", "rep", "exit", "warns", "warntext")}
    rec["rep"] = int(rec["rep"])
    rec["msgs"] = msgs
    for k in ("src_secs", "src_start", "src_end", "drained_at", "edsim_cpu_ms", "sink_cpu_ms",
              "peak_kb", "src_rc", "src_err"):
        rec[k] = num(a.get(k))
    rec["intake_rate"] = msgs / rec["src_secs"] if rec["src_secs"] else None
    # smtp-sink's -c counters: "sess=N quit=N mesg=N" lines separated by \r
    rec["sink_msgs"] = None
    if a.get("sink_out") and os.path.exists(a["sink_out"]):
        txt = open(a["sink_out"], errors="replace").read().replace("\r", "\n")
        for line in txt.splitlines():
            for w in line.split():
                if w.startswith("mesg="):
                    try:
                        rec["sink_msgs"] = int(w[5:])
                    except ValueError:
                        pass
    # the backlog over time (poll file)
    samples, errors = [], 0
    if a.get("poll") and os.path.exists(a["poll"]):
        for line in open(a["poll"]):
            f = line.split()
            if len(f) >= 2 and f[1] == "error":
                errors += 1
            elif len(f) >= 10:
                samples.append([float(f[0])] + [int(x) for x in f[1:10]])
    rec["poll_samples"], rec["poll_errors"] = len(samples), errors
    rec["backlog_max"] = max((s[1] for s in samples), default=None)
    rec["backlog_last"] = samples[-1][1] if samples else None
    rec["conns_max"] = max((s[5] for s in samples), default=None)
    rec["deferred_total"] = samples[-1][8] if samples else None
    rec["bounced_total"] = samples[-1][9] if samples else None
    # a compact series: backlog at each sample, relative to the start of smtp-source
    t0 = rec["src_start"] or (samples[0][0] if samples else 0)
    rec["backlog_series"] = [(round(s[0] - t0, 2), s[1]) for s in samples]
    # the store
    rec["stored"] = rec["delivered"] = None
    db = a.get("db")
    if db and os.path.exists(db):
        con = sqlite3.connect(db)
        try:
            # a message delivered to the capture mailbox as it was accepted
            # keeps its record in its own row (no delivery row)
            rows = con.execute("SELECT m.received, COALESCE(d.state, m.state), "
                               "COALESCE(d.recipients, m.recipients), COALESCE(d.attempts, m.attempts) "
                               "FROM messages m "
                               "LEFT JOIN delivery d ON d.seq = m.seq WHERE m.origin IS NULL OR "
                               "m.origin != 'dsn'").fetchall()
        finally:
            con.close()
        rec["stored"] = len(rows)
        states, lat, multi, dests = {}, [], 0, {}
        first_rcv = last_upd = None
        for received, state, rcpts, attempts in rows:
            states[state or "(none)"] = states.get(state or "(none)", 0) + 1
            first_rcv = received if first_rcv is None else min(first_rcv, received)
            for r in json.loads(rcpts or "[]"):
                if r.get("state") != "delivered" or not r.get("updated"):
                    continue
                u = iso_to_unix(r["updated"])
                last_upd = u if last_upd is None else max(last_upd, u)
                lat.append(u - received)
                if int(r.get("attempts", 1)) > 1:
                    multi += 1
                d = r.get("destination", "?")
                # the smarthost's destination names the next hop's port; keep the host part
                dests[d] = dests.get(d, 0) + 1
        lat.sort()
        rec["states"] = states
        rec["delivered"] = states.get("delivered", 0)
        rec["rcpt_delivered"] = len(lat)
        rec["rcpt_multi_attempt"] = multi
        rec["destinations"] = dests
        rec["first_received"], rec["last_delivered"] = first_rcv, last_upd
        if lat and first_rcv is not None:
            span = last_upd - first_rcv
            rec["e2e_secs"] = span
            rec["e2e_rate"] = len(lat) / span if span > 0 else None
            # ms resolution: "updated" is truncated to the millisecond
            rec["lat_ms"] = {k: pct(lat, p) * 1000 for k, p in (("p50", 50), ("p90", 90), ("p99", 99), ("p999", 99.9))}
            rec["lat_ms"]["max"] = lat[-1] * 1000
            rec["lat_ms"]["min"] = lat[0] * 1000
            rec["lat_ms"]["mean"] = statistics.fmean(lat) * 1000
            rec["lat_over_1s"] = sum(1 for x in lat if x >= 1.0)
            if rec["src_end"]:
                rec["tail_secs"] = last_upd - rec["src_end"]
    with open(a["runs"], "a") as f:
        f.write(json.dumps(rec) + "\n")
    # one-line summary for the log
    def f1(v, nd=0):
        return "n/a" if v is None else "{:,.{}f}".format(v, nd)
    msg = "%s: intake %s msg/s (%s s)" % (rec["tag"], f1(rec["intake_rate"]), f1(rec["src_secs"], 2))
    if rec["col"] != "sink":
        lm = rec.get("lat_ms") or {}
        msg += "; e2e %s msg/s over %s s; latency p50 %s p99 %s max %s ms; delivered %s/%s; backlog max %s, last %s; " \
               "edsim CPU %s ms; exit %s" % (
                   f1(rec.get("e2e_rate")), f1(rec.get("e2e_secs"), 2), f1(lm.get("p50"), 1), f1(lm.get("p99"), 1),
                   f1(lm.get("max"), 1), rec["delivered"], msgs, rec["backlog_max"], rec["backlog_last"],
                   f1(rec["edsim_cpu_ms"]), rec["exit"])
    if rec["sink_msgs"] is not None:
        msg += "; smtp-sink counted %d" % rec["sink_msgs"]
    print(msg)
    return 0


# ---------------------------------------------------------------------------- report


def cmd_report(runs_path, meta_path, out_path):
    meta = {}
    for line in open(meta_path):
        if "=" in line:
            k, v = line.rstrip("\n").split("=", 1)
            meta[k] = v
    runs = [json.loads(l) for l in open(runs_path)] if os.path.exists(runs_path) else []
    out = []
    w = out.append

    def fmt(v, nd=0):
        if v is None:
            return "n/a"
        t = "{:,.{}f}".format(v, nd)
        return t[1:] if t.startswith("-") and not t.strip("-0.,") else t  # no "-0.00"

    def med(vals):
        vals = [v for v in vals if v is not None]
        return statistics.median(vals) if vals else None

    cols = meta.get("COLS", "").split()
    clients = meta.get("CLIENTS", "").split()
    msgs = int(meta.get("MSGS", "0"))
    reps = int(meta.get("REPS", "0"))

    def colname(c):
        if c == "sink":
            return "smtp-source → smtp-sink (ceiling)"
        if c == "capture":
            return "edsim, capture mode"
        if c.startswith("smarthost_c"):
            return "edsim → smtp-sink, smarthost, %s connections" % c[len("smarthost_c"):]
        return c

    client_desc = {"reuse": "connections reused (smtp-source -d)",
                   "conn": "new connection per message (smtp-source without -d)"}

    w("## Relay end to end (issue 5)\n")
    w("Target (issue 5): smtp-source into edsim, relayed to smtp-sink, with the durable store: **at least "
      "5,000 messages/s sustained** and **p99 queue latency (accept → delivered) under 1 s**.")
    if meta.get("SCRIPT_RC", "0") != "0":
        w("\n**bench/relay.sh stopped early (status %s): the figures below are incomplete.**" % meta["SCRIPT_RC"])
    w("\nCommand (alone; the section goes to `RESULTS_FILE`, default `bench/RELAY-RESULTS.md`, and to stdout):\n")
    w("```")
    w("make edsim && bench/relay.sh [RESULTS_FILE]")
    w("```\n")
    w("Per run, fresh processes and a fresh state dir (under `bench/`, same disk as /work):\n")
    w("```")
    w(meta.get("SINK_CMD", "?") + "        # next hop (and the ceiling run's server)")
    w(meta.get("EDSIM_CMD", "?"))
    w(meta.get("SRC_CMD", "?"))
    w("```\n")
    w("edsim's config (`bench-relay.yaml`; the capture column leaves out `relay:` = the default capture mode, "
      "no network delivery; the store is the default durable `STATE/edsim.db`, SQLite WAL, synchronous=FULL):\n")
    w("```yaml")
    w(meta.get("CONFIG_TEXT", "?").replace("\\n", "\n").rstrip())
    w("```\n")
    w("Columns (all in one invocation, %d repetition%s, order rotating between repetitions, median shown):\n" % (reps, "" if reps == 1 else "s"))
    for c in cols:
        w("* **%s**" % colname(c) + {
            "sink": ": smtp-source straight into smtp-sink: what the load generator and the sink do without "
                    "edsim (the ceiling).",
            "capture": ": edsim with the default relay mode: each committed message is marked delivered to the "
                       "capture mailbox (no network hop).",
        }.get(c, ": edsim relays every message to smtp-sink (`relay.mode: smarthost`, `tls: none`, "
                 "`connections: %s`)." % c[len("smarthost_c"):] if c.startswith("smarthost_c") else ""))
    w("\nMeasured per run:\n")
    w("* **intake**: messages / wall time of smtp-source (`date +%s.%N` around it).")
    w("* **sustained end to end**: messages / (last recipient `updated` time − first `received` time), both "
      "read after SIGTERM from `STATE/edsim.db` (`messages.received`, unix seconds; `delivery.recipients[]."
      "updated`, ISO time in ms).")
    w("* **queue latency** per message = its recipient's `updated` − its `received` (set at the end of DATA, "
      "so it includes the store's commit before the `250` reply); nearest-rank percentiles over all %s "
      "messages of the run, resolution 1 ms (`updated` is truncated to the ms)." % fmt(msgs))
    w("* **tail**: last delivery − end of smtp-source (how long the relay needed after the load stopped).")
    w("* **backlog**: `messages` of `GET /api/v1/queue` (messages in memory, unfinished), polled every %s s "
      "from smtp-source's start until the queue had drained (all %s delivered and `messages` 0, polled "
      "every 20 ms, timeout %s s)." % (meta.get("POLL", "?"), fmt(msgs), meta.get("DRAIN_TIMEOUT", "?")))
    w("* **CPU**: user+system of the server process (all threads, `/proc/PID/stat`) once drained, per message; "
      "for the relay columns also smtp-sink's.")
    w("* checks: `delivery.state = 'delivered'` count, recipients with more than one attempt, smtp-sink's "
      "`-c` message counter (`mesg=`), edsim's exit status after SIGTERM and its warn/error log lines.")

    w("\n### Machine\n")
    w("| | |\n|---|---|")
    for k, label in (("M_NPROC", "nproc"), ("M_CPU", "CPU"), ("M_MEM", "memory"), ("M_KERNEL", "kernel"),
                     ("M_DISK", "disk (state dir)"), ("M_LOAD", "load average before / after"),
                     ("M_DATE", "date"), ("M_EDSIM", "edsim"), ("M_POSTFIX", "smtp-source / smtp-sink"),
                     ("TOTAL_SECS", "total benchmark time (s)")):
        w("| %s | %s |" % (label, meta.get(k, "?")))

    problems = []
    target_rows = []
    notes = []
    for client in clients:
        w("\n### %s, %s messages, %s sessions (median of %d run%s)\n" % (
            client_desc.get(client, client), fmt(msgs), meta.get("SESSIONS", "?"), reps, "" if reps == 1 else "s"))
        w("| | " + " | ".join(colname(c) for c in cols) + " |")
        w("|---" * (len(cols) + 1) + "|")
        byc = {c: [r for r in runs if r["col"] == c and r["client"] == client] for c in cols}

        def row(label, fn, cols=cols):
            w("| %s | " % label + " | ".join(fn(c) for c in cols) + " |")

        def m(c, key, sub=None):
            vals = []
            for r in byc[c]:
                v = r.get(key)
                if sub is not None:
                    v = (v or {}).get(sub)
                vals.append(v)
            return med(vals)

        row("intake (msg/s)", lambda c: fmt(m(c, "intake_rate")))
        row("**sustained end to end (msg/s)**",
            lambda c: "(= intake)" if c == "sink" else "**%s**" % fmt(m(c, "e2e_rate")))
        cap = m("capture", "e2e_rate") if "capture" in byc else None
        row("sustained ÷ capture mode's", lambda c: "-" if c in ("sink", "capture") or not cap else fmt(
            (m(c, "e2e_rate") or 0) / cap, 2))
        row("sustained ÷ ceiling", lambda c: "-" if c == "sink" or "sink" not in byc or not m("sink", "intake_rate")
            else fmt((m(c, "e2e_rate") or 0) / m("sink", "intake_rate"), 2))
        row("first accept → last delivered (s)", lambda c: "-" if c == "sink" else fmt(m(c, "e2e_secs"), 2))
        row("tail after smtp-source ended (s)", lambda c: "-" if c == "sink" else fmt(m(c, "tail_secs"), 2))
        row("queue latency p50 (ms)", lambda c: "-" if c == "sink" else fmt(m(c, "lat_ms", "p50"), 1))
        row("queue latency p90 (ms)", lambda c: "-" if c == "sink" else fmt(m(c, "lat_ms", "p90"), 1))
        row("**queue latency p99 (ms)**", lambda c: "-" if c == "sink" else "**%s**" % fmt(m(c, "lat_ms", "p99"), 1))
        row("queue latency max (ms), worst run", lambda c: "-" if c == "sink" else fmt(
            max([(r.get("lat_ms") or {}).get("max") for r in byc[c] if r.get("lat_ms")] or [None], key=lambda x: x or 0), 1))
        row("messages with latency ≥ 1 s, all runs", lambda c: "-" if c == "sink" else fmt(
            sum(r.get("lat_over_1s") or 0 for r in byc[c])))
        row("backlog max (messages in queue), worst run", lambda c: "-" if c == "sink" else fmt(
            max([r.get("backlog_max") for r in byc[c] if r.get("backlog_max") is not None] or [None], key=lambda x: x or 0)))
        row("delivered / stored, all runs", lambda c: "-" if c == "sink" else "%s / %s" % (
            fmt(sum(r.get("delivered") or 0 for r in byc[c])), fmt(sum(r.get("stored") or 0 for r in byc[c]))))
        row("smtp-sink counted, all runs", lambda c: "-" if c == "capture" else fmt(
            sum(r.get("sink_msgs") or 0 for r in byc[c])) if all(r.get("sink_msgs") is not None for r in byc[c]) else "n/a")
        row("server CPU per message (µs)", lambda c: fmt(med([r["edsim_cpu_ms"] * 1000 / r["msgs"] for r in byc[c]
                                                              if r.get("edsim_cpu_ms") is not None])))
        row("server CPU, share of one core (CPU ÷ accept-to-delivered time)", lambda c: fmt(med(
            [r["edsim_cpu_ms"] / 1000 / (r["src_secs"] if c == "sink" else r["e2e_secs"]) for r in byc[c]
             if r.get("edsim_cpu_ms") is not None and (r.get("src_secs") if c == "sink" else r.get("e2e_secs"))]), 2))
        row("smtp-sink CPU per message (µs)", lambda c: "-" if c == "capture" else fmt(
            med([(r["sink_cpu_ms"] if c != "sink" else r["edsim_cpu_ms"]) * 1000 / r["msgs"] for r in byc[c]
                 if (r.get("sink_cpu_ms") if c != "sink" else r.get("edsim_cpu_ms")) is not None])))
        # per-run detail
        w("\nPer run:\n")
        w("| column | run | intake msg/s | e2e msg/s | p50 ms | p99 ms | max ms | tail s | backlog max | drained | "
          "delivered | multi-attempt | sink count | edsim CPU ms | sink CPU ms | exit | warnings |")
        w("|---" * 17 + "|")
        for c in cols:
            for r in sorted(byc[c], key=lambda r: r["rep"]):
                lm = r.get("lat_ms") or {}
                es = c == "sink"
                w("| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                    c, r["rep"], fmt(r.get("intake_rate")), "-" if es else fmt(r.get("e2e_rate")),
                    "-" if es else fmt(lm.get("p50"), 1), "-" if es else fmt(lm.get("p99"), 1),
                    "-" if es else fmt(lm.get("max"), 1), "-" if es else fmt(r.get("tail_secs"), 2),
                    "-" if es else fmt(r.get("backlog_max")),
                    "-" if es else ("yes" if r.get("drained_at") else "**no**"),
                    "-" if es else fmt(r.get("delivered")), "-" if es else fmt(r.get("rcpt_multi_attempt")),
                    "-" if c == "capture" else fmt(r.get("sink_msgs")), "-" if es else fmt(r.get("edsim_cpu_ms")),
                    "-" if c == "capture" else fmt(r.get("edsim_cpu_ms") if es else r.get("sink_cpu_ms")),
                    "-" if es else r.get("exit"), "-" if es else r.get("warns")))
                name = "%s, %s, run %d" % (colname(c), client, r["rep"])
                if r.get("src_rc") not in (0, None) or r.get("src_err") not in (0, None):
                    problems.append("%s: smtp-source exit %s, %s stderr line(s)" % (name, fmt(r.get("src_rc")), fmt(r.get("src_err"))))
                if c != "sink":
                    if not r.get("drained_at"):
                        problems.append("%s: the queue did not drain within %s s (backlog at the last poll: %s; "
                                        "delivered %s of %s)" % (name, meta.get("DRAIN_TIMEOUT"), r.get("backlog_last"),
                                                                 r.get("delivered"), msgs))
                    if r.get("stored") != msgs:
                        problems.append("%s: the store held %s messages, not %s" % (name, r.get("stored"), msgs))
                    if r.get("delivered") != msgs:
                        problems.append("%s: %s of %s messages delivered (states: %s)" % (
                            name, r.get("delivered"), msgs, json.dumps(r.get("states"))))
                    if r.get("rcpt_multi_attempt"):
                        problems.append("%s: %d recipients needed more than one attempt" % (name, r["rcpt_multi_attempt"]))
                    if r.get("exit") != "0":
                        problems.append("%s: edsim exit status %s after SIGTERM" % (name, r.get("exit")))
                    if r.get("warns") not in ("0", None, ""):
                        problems.append("%s: %s warn/error log line(s): %s" % (name, r["warns"], r.get("warntext")))
                    if r.get("poll_errors"):
                        problems.append("%s: %d failed polls of /api/v1/queue" % (name, r["poll_errors"]))
                if c != "capture" and r.get("sink_msgs") is not None and r["sink_msgs"] != msgs:
                    problems.append("%s: smtp-sink counted %s messages, not %s" % (name, fmt(r["sink_msgs"]), fmt(msgs)))
        for c in cols:
            if c.startswith("smarthost_c"):
                e2e, p99 = m(c, "e2e_rate"), m(c, "lat_ms", "p99")
                target_rows.append((client, c, e2e, p99))
                n = int(c[len("smarthost_c"):])
                bmax = max([r.get("backlog_max") or 0 for r in byc[c]] or [0])
                tails = [r.get("tail_secs") for r in byc[c] if r.get("tail_secs") is not None]
                if not byc[c]:
                    continue
                if bmax <= 10 * n and max(tails or [0]) < 0.1:
                    notes.append("%s, %s: the relay kept pace with the intake (backlog at most %s, %s the "
                                 "connection limit; last delivery at most %s s after smtp-source ended): the "
                                 "sustained rate is the intake rate, the relay is not the bottleneck." % (
                                     colname(c), client_desc.get(client, client), fmt(bmax),
                                     "within" if bmax <= n else "a few times", fmt(max(0.0, max(tails or [0])), 2)))
                else:
                    notes.append("%s, %s: the relay fell behind the intake at times (backlog up to %s messages; last "
                                 "delivery up to %s s after smtp-source ended; latency p99 %s ms): with %d "
                                 "connections the next hop's round trips limit the relay." % (
                                     colname(c), client_desc.get(client, client), fmt(bmax),
                                     fmt(max(0.0, max(tails or [0])), 2), fmt(p99, 1), n))
        # backlog over time, the first run of each relay column (sampled)
        shown = False
        for c in cols:
            if c == "sink" or not byc[c]:
                continue
            r = sorted(byc[c], key=lambda r: r["rep"])[0]
            ser = r.get("backlog_series") or []
            if not ser:
                continue
            if not shown:
                w("\nBacklog (`messages` of `GET /api/v1/queue`) over time in run 1, `t` in s from smtp-source's "
                  "start (every sample up to 40, then thinned):\n")
                shown = True
            step = max(1, -(-len(ser) // 40))
            pts = ser[::step]
            if pts[-1] != ser[-1]:
                pts.append(ser[-1])
            w("* %s: %s" % (colname(c), ", ".join("%.1f: %d" % (t, n) for t, n in pts)))

    w("\n### Targets (durable store)\n")
    w("| client | column | sustained msg/s (≥ 5,000) | | p99 queue latency (< 1 s) | |")
    w("|---|---|---|---|---|---|")
    allmet = True
    met_rows = []
    for client, c, e2e, p99 in target_rows:
        ok1 = e2e is not None and e2e >= 5000
        ok2 = p99 is not None and p99 < 1000
        allmet &= ok1 and ok2
        if ok1 and ok2:
            met_rows.append("%s, %s" % (colname(c), client_desc.get(client, client)))
        w("| %s | %s | %s | %s | %s ms | %s |" % (client_desc.get(client, client), colname(c), fmt(e2e),
                                                   "**met**" if ok1 else "**not met**", fmt(p99, 1),
                                                   "**met**" if ok2 else "**not met**"))
    if target_rows:
        if allmet:
            w("\nTarget **met** in every relay row above.")
        elif met_rows:
            w("\nTarget **met** (both figures) for: %s. **Not met** in the other rows above." % "; ".join(met_rows))
        else:
            w("\nTarget **not met** in any relay row above.")

    if meta.get("SCRIPT_RC", "0") != "0":
        problems.insert(0, "bench/relay.sh stopped early with status %s%s" % (
            meta["SCRIPT_RC"], (": " + meta["LAST_ERROR"]) if meta.get("LAST_ERROR") else ""))
    w("\n### Problems seen\n")
    if problems:
        for p in problems:
            w("* " + p)
    else:
        w("None: every edsim run drained to an empty queue, delivered all %s messages with one attempt each, "
          "smtp-sink counted them all, edsim logged no warning or error (besides \"no users configured\") and "
          "exited 0 on SIGTERM; smtp-source reported no error." % fmt(msgs))
    w("\n### Notes\n")
    for n in notes:
        w("* " + n)
    nproc = meta.get("M_NPROC", "?")
    load = meta.get("M_LOAD", "?")
    try:
        busy = float(load.split()[0]) >= 0.5 * float(nproc)
    except ValueError:
        busy = False
    if busy:
        w("* The machine was not idle: load average %s (before / after) on %s cores, from other processes "
          "besides this benchmark. Absolute figures vary between invocations; compare columns of the same "
          "invocation." % (load, nproc))
    w("* smtp-source, edsim and smtp-sink share the machine's %s cores; in the relay columns edsim receives "
      "and sends at once and smtp-sink runs beside it." % nproc)
    w("* smtp-sink runs with `-c` (a counter line per message and per session) in every column, so that the "
      "ceiling and the next hop do the same work (`bench/smtp-source.sh` runs it without `-c`).")
    w("* Latency and the sustained rate come from edsim's own timestamps: `received` is set at the end of DATA "
      "(before the store's commit and the `250`), `updated` when the next hop's reply arrived (smarthost). In "
      "capture mode with no rule at stage relay the delivery record is written in the message's own commit "
      "with `updated` = `received` (truncated to the ms), so its latency is 0 by construction (slightly "
      "negative after truncation); its sustained rate is its intake rate. Both are wall-clock times of the "
      "same process; `updated` has 1 ms resolution (truncated), so a tail slightly below 0 means the last "
      "delivery came before smtp-source had exited.")
    w("* The queue poll (every %s s) and the drain check (every 20 ms) are the only other load on edsim's "
      "control port." % meta.get("POLL", "?"))
    text = "\n".join(out) + "\n"
    open(out_path, "w").write(text)
    sys.stdout.write(text)
    return 0


def main(argv):
    if len(argv) < 2:
        sys.stderr.write(__doc__)
        return 2
    cmd, args = argv[1], argv[2:]
    if cmd == "poll":
        return cmd_poll(*args) or 0
    if cmd == "drain":
        return cmd_drain(*args)
    if cmd == "stats":
        return cmd_stats(args)
    if cmd == "report":
        return cmd_report(*args)
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
