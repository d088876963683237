#!/usr/bin/env python3
"""Table, CSV and plot of two hmm-bench runs (harness/bench.sh).

Reads the results channel of each boot (NAME.out, NAME.meta as written by
harness/boot.sh), takes the "# csv: " lines of the hmm-bench section, and
writes under --out:
  base.csv, patched.csv   each run as hmm-bench printed it (plus kernel column)
  bench.csv               one line per case: base and patched side by side
  bench.png               GB/s against size, one panel per op (gnuplot)
and prints one table.  Figures are reported, never judged.
"""
import argparse
import csv
import os
import re
import shutil
import statistics
import subprocess
import sys

COLS = ['op', 'thp', 'size', 'reps', 'med_us', 'min_us', 'max_us', 'q1_us', 'q3_us',
        'gbps', 'thp_pct', 'retries', 'status', 'cal_us', 'rel_med', 'rel_q1', 'rel_q3']
# hmm-bench before the reference loop printed the first 13 columns only
OLD_COLS = COLS[:13]
# p/b* only for calls this short: two references at the ends of a longer
# call say little about the host's speed in between (bench/hmm-bench.c)
REF_MAX_US = 1000.0
OPS = ['touch', 'memcpy', 'migrate', 'fault', 'move', 'read', 'snapshot', 'exclusive', 'evict']


def parse_out(path):
    """(info, rows, complete) of the hmm-bench section of a results file."""
    info, rows, inside, complete = {}, [], False, False
    if not os.path.exists(path):
        return info, rows, False
    with open(path, errors='replace') as f:
        for line in f:
            line = line.rstrip('\r\n')
            if line.startswith('GUEST-START'):
                info.update(kv.split('=', 1) for kv in line.split()[1:] if '=' in kv)
            if line == '### BEGIN hmm-bench':
                inside = True
                continue
            if re.match(r'### END hmm-bench rc=\d+( s=\d+)?$', line):
                inside, complete = False, True
                continue
            if not inside:
                continue
            m = re.match(r'# hmm-bench: (.*)', line)
            if m:
                if m.group(1).startswith('thp_enabled='):
                    info['thp_enabled'] = m.group(1).split('=', 1)[1]
                else:
                    info.update(kv.split('=', 1) for kv in m.group(1).split() if '=' in kv)
                continue
            m = re.match(r'# csv: (.*)', line)
            if m:
                vals = m.group(1).split(',')
                if len(vals) == len(COLS):
                    rows.append(dict(zip(COLS, vals)))
                elif len(vals) == len(OLD_COLS):
                    rows.append(dict(zip(COLS, vals + [''] * (len(COLS) - len(vals)))))
    return info, rows, complete


def read_meta(path):
    try:
        with open(path) as f:
            return dict(kv.split('=', 1) for kv in f.read().split())
    except OSError:
        return {}


def fnum(s):
    try:
        return float(s)
    except (TypeError, ValueError):
        return None


def human(size):
    size = int(size)
    if size >= 1 << 20:
        return f'{size >> 20}M'
    return f'{size >> 10}K'


def key(r):
    return (r['op'], r['thp'], int(r['size']))


def spread(r, med='med_us', q1='q1_us', q3='q3_us'):
    """Interquartile range of the samples over their median, percent."""
    med, q1, q3 = fnum(r.get(med)), fnum(r.get(q1)), fnum(r.get(q3))
    if not med or q1 is None or q3 is None:
        return None
    return 100.0 * (q3 - q1) / med


def fmt(v, spec, width):
    return format(v, spec).rjust(width) if v is not None else '-'.rjust(width)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--results', required=True, help='directory with NAME.out/.meta')
    ap.add_argument('--base', default='bench-base', help='boot name of the base run')
    ap.add_argument('--patched', default='bench-patched')
    ap.add_argument('--out', required=True, help='output directory')
    ap.add_argument('--title', default='', help='extra line for the table header and plot')
    ap.add_argument('--note', action='append', default=[], help='extra line for the table header')
    ap.add_argument('--alt', help='directory with the alternating boots, {base,patched}-N.out')
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)

    runs = {}
    for label, name in (('base', a.base), ('patched', a.patched)):
        info, rows, complete = parse_out(os.path.join(a.results, name + '.out'))
        meta = read_meta(os.path.join(a.results, name + '.meta'))
        runs[label] = dict(info=info, rows=rows, complete=complete, meta=meta,
                           by={key(r): r for r in rows})
        with open(os.path.join(a.out, label + '.csv'), 'w', newline='') as f:
            w = csv.writer(f)
            w.writerow(['kernel'] + COLS)
            for r in rows:
                w.writerow([info.get('kernel', '?')] + [r[c] for c in COLS])

    b, p = runs['base'], runs['patched']
    keys = []
    for r in b['rows'] + p['rows']:
        if key(r) not in keys:
            keys.append(key(r))
    keys.sort(key=lambda k: (OPS.index(k[0]) if k[0] in OPS else 99, k[1] != 'off', k[2]))

    def memcpy_gbps(run, thp, size):
        r = run['by'].get(('memcpy', thp, size))
        return fnum(r['gbps']) if r else None

    # Joined CSV
    joined = []
    for k in keys:
        op, thp, size = k
        rb, rp = b['by'].get(k), p['by'].get(k)
        gb = fnum(rb['gbps']) if rb else None
        gp = fnum(rp['gbps']) if rp else None
        # time in reference units: lower is faster
        xb = fnum(rb['rel_med']) if rb and gb else None
        xp = fnum(rp['rel_med']) if rp and gp else None
        short = all(r and (fnum(r['med_us']) or 0) < REF_MAX_US for r in (rb, rp))
        mb, mp = memcpy_gbps(b, thp, size), memcpy_gbps(p, thp, size)
        joined.append(dict(
            op=op, thp=thp, size=size,
            base_med_us=rb and rb['med_us'], base_min_us=rb and rb['min_us'],
            base_max_us=rb and rb['max_us'], base_gbps=gb,
            base_status=rb['status'] if rb else 'missing',
            patched_med_us=rp and rp['med_us'], patched_min_us=rp and rp['min_us'],
            patched_max_us=rp and rp['max_us'], patched_gbps=gp,
            patched_status=rp['status'] if rp else 'missing',
            ratio=(gp / gb) if gb and gp else None,
            base_frac_memcpy=(gb / mb) if gb and mb else None,
            patched_frac_memcpy=(gp / mp) if gp and mp else None,
            base_retries=int(rb['retries']) if rb and rb['retries'].isdigit() else 0,
            patched_retries=int(rp['retries']) if rp and rp['retries'].isdigit() else 0,
            base_iqr_pct=spread(rb) if rb else None,
            patched_iqr_pct=spread(rp) if rp else None,
            thp_pct=(rp or rb)['thp_pct'],
            base_cal_us=fnum(rb['cal_us']) if rb else None,
            patched_cal_us=fnum(rp['cal_us']) if rp else None,
            base_rel_med=xb, patched_rel_med=xp,
            base_rel_iqr_pct=spread(rb, 'rel_med', 'rel_q1', 'rel_q3') if rb else None,
            patched_rel_iqr_pct=spread(rp, 'rel_med', 'rel_q1', 'rel_q3') if rp else None,
            ratio_ref=(xb / xp) if xb and xp and short else None))
    cols = list(joined[0].keys()) if joined else []
    with open(os.path.join(a.out, 'bench.csv'), 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(cols)
        for j in joined:
            w.writerow(['' if j[c] is None else (f'{j[c]:.4f}' if isinstance(j[c], float) else j[c])
                        for c in cols])

    # Table
    accel = {b['meta'].get('accel'), p['meta'].get('accel')}
    accel.discard(None)
    accel_s = '/'.join(sorted(accel)) or '?'
    reps = p['info'].get('reps') or b['info'].get('reps') or '?'
    small = p['info'].get('small_reps') or b['info'].get('small_reps')
    if small and small != '1' and reps != '?':
        # hmm-bench -k: ranges below 1 MiB take that many samples a round
        reps = f'{reps} ({int(reps) * int(small)} below 1 MiB)'
    print(f'hmm-bench  base: {b["info"].get("kernel", "?")}   patched: {p["info"].get("kernel", "?")}')
    if a.title:
        print(a.title)
    for n in a.note:
        print(n)
    print(f'accelerator: {accel_s}' + ('  (QEMU TCG: an emulated CPU, absolute figures mean little)'
                                      if 'tcg' in accel else ''))
    if len(accel) > 1:
        print('WARNING: the two boots ran on different accelerators: the ratios are meaningless')
    cpus = {b['meta'].get('cpu', '?'), p['meta'].get('cpu', '?')}
    print(f'guest cpu: {"/".join(sorted(cpus))}' + ('  (no "rep movsb": TCG runs it a byte at a time)'
                                                    if all('erms=off' in c for c in cpus) else ''))
    pre = {b['meta'].get('prealloc', '?'), p['meta'].get('prealloc', '?')}
    print(f'guest memory: prealloc {"/".join(sorted(pre))}' +
          ('  (all of it touched before boot: no host page fault on a first write)' if pre == {'on'} else ''))
    print(f'guest: THP {b["info"].get("thp_enabled", "?")}; clocksource {b["info"].get("clocksource", "?")}'
          f'/{p["info"].get("clocksource", "?")}; memcpy {p["info"].get("memcpy", "?")}; '
          f'median of {reps}, one call over the range per sample')
    print('only figures of one run are comparable: the host is shared, absolute figures drift')
    for label, run in (('base', b), ('patched', p)):
        if 'jiffies' in run['info'].get('clocksource', ''):
            print(f'WARNING: the {label} guest timed with {run["info"]["clocksource"]}: '
                  'a resolution of one tick (4 ms), small cases and p/b* are meaningless')
    print('GB/s = bytes/median time; p/b = patched GB/s / base GB/s (>1: patched faster);')
    print('%mc = GB/s as % of memcpy of the same size and THP mode in the same guest;')
    print('iqr = interquartile range of the samples / median, %: a p/b within it is noise;')
    print(f'p/b* = base/patched of the median in reference units (>1: patched faster, as p/b), for')
    print(f'  calls under {REF_MAX_US:.0f} us: each sample over the mean of a fixed user loop timed right')
    print('  before and after it in the same guest (bench/hmm-bench.c); moves less with the host')
    print('  speed than the times do, not exactly with it')
    print('min and max of the samples are in the CSV')
    hdr = (f'{"op":<9} {"size":>5} {"thp":>3} | {"base us":>10} {"GB/s":>7} {"%mc":>5} {"iqr":>4} | '
           f'{"patch us":>10} {"GB/s":>7} {"%mc":>5} {"iqr":>4} | {"p/b":>5} {"p/b*":>5}')
    print(hdr)
    print('-' * len(hdr))
    last = None
    for j in joined:
        if last and last != j['op']:
            print()
        last = j['op']

        def side(pre):
            st = j[pre + '_status']
            g = j[pre + '_gbps']
            if g is None and fnum(j[pre + '_med_us']) is None:
                return f'{st[:33]:>33}'
            if g is None:       # a median of 0: below the clock's resolution
                return f'{fnum(j[pre + "_med_us"]):10.1f} {"-":>7} {"-":>5} {"-":>4}'
            us = fnum(j[pre + '_med_us'])
            return (f'{us:10.1f} {g:7.3f} ' + fmt(j[pre + '_frac_memcpy'] and 100 * j[pre + '_frac_memcpy'], '.0f', 5) +
                    ' ' + fmt(j[pre + '_iqr_pct'], '.0f', 4))
        ratio = fmt(j['ratio'], '.2f', 5) + ' ' + fmt(j['ratio_ref'], '.2f', 5)
        note = ''
        for pre in ('base', 'patched'):
            st = j[pre + '_status']
            if st != 'ok' and j[pre + '_gbps'] is not None:
                note += f'  [{pre}: {st}]'
            if j[pre + '_retries'] and j[pre + '_gbps'] is not None:
                note += f'  [{pre}: {j[pre + "_retries"]} samples retried]'
        print(f'{j["op"]:<9} {human(j["size"]):>5} {j["thp"]:>3} | {side("base")} | {side("patched")} | {ratio}{note}')
    # memcpy is the same user code in both guests: its p/b is the noise floor.
    mc = [j['ratio'] for j in joined if j['op'] == 'memcpy' and j['ratio']]
    if mc:
        print(f'noise floor: memcpy p/b (same code in both guests) ranges {min(mc):.2f}..{max(mc):.2f}')
    mc_ref = [j['ratio_ref'] for j in joined if j['op'] == 'memcpy' and j['ratio_ref']]
    if mc_ref:
        print(f'noise floor: memcpy p/b* ranges {min(mc_ref):.2f}..{max(mc_ref):.2f}')
    for label, pre in (('base', 'base'), ('patched', 'patched')):
        cal = sorted(j[pre + '_cal_us'] for j in joined if j[pre + '_cal_us'])
        if cal:
            print(f'{label}: reference loop median per case {cal[0]:.1f}..{cal[-1]:.1f} us')
        bad = [f'{j["op"]} {human(j["size"])} thp {j["thp"]} ({j[pre + "_status"]})' for j in joined
               if j[pre + '_status'] not in ('ok',) and not j[pre + '_status'].startswith('short')]
        print(f'{label}: {len(bad)} of {len(joined)} cases without figures' + (': ' + '; '.join(bad) if bad else ''))
    for label, run in (('base', b), ('patched', p)):
        if not run['complete']:
            print(f'NOTE: the {label} run did not finish (guest {run["meta"].get("seconds", "?")} s, '
                  f'qemu exit {run["meta"].get("qemu_rc", "?")}): its figures are partial')
    for label, run in (('base', b), ('patched', p)):
        print(f'{label}: guest {run["meta"].get("seconds", "?")} s, accel={run["meta"].get("accel", "?")}')

    if a.alt:
        alt_table(a.alt, a.out)

    plot(a.out, joined, f'hmm-bench, accel={accel_s}: base {b["info"].get("kernel", "?")} vs '
         f'patched {p["info"].get("kernel", "?")}, median of {reps}' + (f'\\n{a.title}' if a.title else ''))
    print(f'written: {a.out}/bench.csv, base.csv, patched.csv' +
          (', alt.csv' if a.alt and os.path.exists(os.path.join(a.out, 'alt.csv')) else '') +
          (', bench.png' if os.path.exists(os.path.join(a.out, 'bench.png')) else ''))
    return 0 if b['rows'] and p['rows'] else 1


def alt_table(d, out):
    """The alternating boots: one guest at a time, base and patched in turn.

    Per case, the median over the boots of each boot's median, in us and in
    reference units; p/b and p/b* of those; and the range of p/b* over the
    pairs (boot i of the base against boot i of the patched kernel), which
    shows how far one pair of runs can be off.
    """
    runs = {'base': {}, 'patched': {}}
    samples = set()
    for fn in sorted(os.listdir(d)) if os.path.isdir(d) else []:
        m = re.match(r'(base|patched)-(\d+)\.out$', fn)
        if not m:
            continue
        info, rows, complete = parse_out(os.path.join(d, fn))
        if complete:
            runs[m.group(1)][int(m.group(2))] = {key(r): r for r in rows if r['status'] == 'ok'}
            samples.update(r['reps'] for r in rows if r['status'] == 'ok')
    rb, rp = runs['base'], runs['patched']
    print()
    if os.path.exists(os.path.join(out, 'alt.csv')):
        os.remove(os.path.join(out, 'alt.csv'))
    if not rb or not rp:
        print(f'alternating boots: none complete in {d} (base {len(rb)}, patched {len(rp)})')
        return
    keys = sorted({k for by in list(rb.values()) + list(rp.values()) for k in by},
                  key=lambda k: (OPS.index(k[0]) if k[0] in OPS else 99, k[1] != 'off', k[2]))
    print(f'alternating boots: {len(rb)} of the base, {len(rp)} of the patched kernel, one guest at a')
    print('  time, in turn (ABBA); per case the median over the boots of each boot\'s median;')
    print(f'  samples per case and boot: {"/".join(sorted(samples, key=int)) or "?"}; '
          'pairs = p/b* of boot i against boot i, lowest..highest')
    print('op         size thp |  base us    rel |  patch us    rel |   p/b  p/b* | pairs p/b* boots')
    print('-' * 85)
    rows = []
    for k in keys:
        def med(runs_, col):
            v = [fnum(by[k][col]) for by in runs_.values() if k in by]
            v = [x for x in v if x]
            return statistics.median(v) if v else None, len(v)
        tb, n = med(rb, 'med_us')
        tp, n_p = med(rp, 'med_us')
        xb, _ = med(rb, 'rel_med')
        xp, _ = med(rp, 'rel_med')
        # p/b* only for short calls, as in the main table (REF_MAX_US)
        short = tb and tp and tb < REF_MAX_US and tp < REF_MAX_US
        pairs = [] if not short else [fnum(rb[i][k]['rel_med']) / fnum(rp[i][k]['rel_med'])
                 for i in sorted(set(rb) & set(rp))
                 if k in rb[i] and k in rp[i] and fnum(rb[i][k]['rel_med']) and fnum(rp[i][k]['rel_med'])]
        ratio = tb / tp if tb and tp else None
        ratio_ref = xb / xp if xb and xp and short else None
        lo, hi = (min(pairs), max(pairs)) if pairs else (None, None)
        op, thp, size = k
        print(f'{op:<9} {human(size):>5} {thp:>3} |{fmt(tb, ".1f", 9)} {fmt(xb, ".2f", 6)} |'
              f'{fmt(tp, ".1f", 10)} {fmt(xp, ".2f", 6)} |{fmt(ratio, ".2f", 6)}{fmt(ratio_ref, ".2f", 6)} |'
              f'{fmt(lo, ".2f", 5)}..{fmt(hi, ".2f", 4).strip():<4} {n:>2}/{n_p}')
        rows.append([op, thp, size, n, n_p, tb, xb, tp, xp, ratio, ratio_ref, lo, hi])
    with open(os.path.join(out, 'alt.csv'), 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(['op', 'thp', 'size', 'base_boots', 'patched_boots', 'base_med_us', 'base_rel_med', 'patched_med_us',
                    'patched_rel_med', 'ratio', 'ratio_ref', 'pairs_ref_min', 'pairs_ref_max'])
        for r in rows:
            w.writerow(['' if v is None else (f'{v:.4f}' if isinstance(v, float) else v) for v in r])


def plot(out, joined, title):
    png = os.path.join(out, 'bench.png')
    if os.path.exists(png):
        os.remove(png)
    gp = shutil.which('gnuplot')
    if not gp:
        print('no gnuplot: no plot (apt-get install gnuplot-nox)')
        return
    # One data file per op: size, base off, patched off, base on, patched on
    ops = [o for o in OPS if any(j['op'] == o for j in joined)]
    for o in ops:
        sizes = sorted({j['size'] for j in joined if j['op'] == o})
        with open(os.path.join(out, f'.plot-{o}.dat'), 'w') as f:
            for s in sizes:
                vals = []
                for thp in ('off', 'on'):
                    j = next((x for x in joined if x['op'] == o and x['thp'] == thp and x['size'] == s), None)
                    for pre in ('base', 'patched'):
                        v = j and j[pre + '_gbps']
                        vals.append(f'{v:.6g}' if v else 'NaN')
                f.write(f'{s} {" ".join(vals)}\n')
    cols, rows = 4, (len(ops) + 1 + 3) // 4     # one panel more, for the key
    lines = [
        "set terminal pngcairo noenhanced size 1800,%d font 'DejaVu Sans,10'" % (430 * rows + 70),
        f"set output '{png}'",
        "set datafile missing 'NaN'",
        f"set multiplot layout {rows},{cols} title \"{title}\" font ',12'",
        "set logscale xy 2",
        "set format y '%g'",
        "set xtics ('4K' 4096, '16K' 16384, '64K' 65536, '256K' 262144, '1M' 1048576, "
        "'4M' 4194304, '16M' 16777216, '64M' 67108864, '256M' 268435456) rotate by -45",
        "set xrange [3000:360000000]",
        "set xlabel 'size (bytes)'",
        "set ylabel 'GB/s (median)'",
        "set grid",
        "unset key",
    ]
    style = ["lc rgb '#1f77b4' pt 7 ps 0.8 dt 1 t 'base, THP off'",
             "lc rgb '#d62728' pt 5 ps 0.8 dt 1 t 'patched, THP off'",
             "lc rgb '#1f77b4' pt 6 ps 1.0 dt 2 t 'base, THP on (2 MiB and up)'",
             "lc rgb '#d62728' pt 4 ps 1.0 dt 2 t 'patched, THP on (2 MiB and up)'"]
    for o in ops:
        d = os.path.join(out, f'.plot-{o}.dat')
        lines += [
            f"set title '{o}'",
            "plot " + ", ".join(f"'{d if i == 0 else ''}' u 1:{i + 2} w lp {st}"
                                for i, st in enumerate(style)),
        ]
    # The key, once, in a panel of its own; figures a case did not produce
    # (an error) are gaps.
    lines += [
        "set title 'GB/s = bytes / median time of one call over the range'",
        "unset border", "unset tics", "unset xlabel", "unset ylabel", "unset grid",
        "unset logscale", "set xrange [0:1]", "set yrange [0:1]",
        "set key center center box font ',11' spacing 1.5",
        "set label 1 'no point: the call failed in that kernel (error in the table)' "
        "at graph 0.5, graph 0.12 center font ',10'",
        "plot " + ", ".join(f"NaN w lp {st}" for st in style),
        "unset multiplot",
    ]
    script = os.path.join(out, '.plot.gp')
    with open(script, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    r = subprocess.run([gp, script], capture_output=True, text=True)
    if r.returncode:
        print('gnuplot failed: ' + r.stderr.strip().splitlines()[-1] if r.stderr else 'gnuplot failed')


if __name__ == '__main__':
    sys.exit(main())
