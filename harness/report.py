#!/usr/bin/env python3
"""Stage "report": turn what the guest and the series gates produced into one
verdict.

Inputs, all under the results directory:
  NAME.out      results channel of a boot: sections framed by
                "### BEGIN suite" / "### END suite rc=N", each TAP or KTAP
  NAME.console  kernel console of that boot, searched for splats
  NAME.meta     accelerator, seconds and QEMU exit status of that boot, and
                whether boot.sh booted it twice after the known early-boot
                flake (NAME.attempt1.console: the first attempt; a note)
  NAME.tap      KTAP written by a series gate (checkpatch, bisect, sparse...)

TAP is parsed with the kernel's own KTAP parser (tools/testing/kunit).  Every
leaf case counts once.  Cases listed in the known-failures file are expected
failures: reported apart, and an error if they pass.  A skipped case fails
unless it is listed there as an expected skip ("skip NAME reason"), and a
listed skip that runs fails too.  A section whose program exits non-zero
fails (unless it holds expected failures).  A boot adds two cases of its
own: it completed, and its console shows no splat; after boot.sh's one
retry a third, that the first attempt's first splat was the known flake.
"""
import argparse
import io
import os
import re
import sys

SPLAT = re.compile(
    r'(WARNING:|BUG:|Oops|Kernel panic|general protection fault|KASAN:|'
    r'KFENCE:|UBSAN:|kmemleak: \d+ new suspected|possible circular locking|'
    r'possible recursive locking|inconsistent lock state|'
    r'suspicious RCU usage|INFO: task .* blocked|Unable to handle|'
    r'\[ cut here \]|Call Trace:)')


def load_known(path):
    """{name: reason} of expected failures, and of expected skips (lines
    starting with "skip ")."""
    known, skips = {}, {}
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.split('#', 1)[0].strip() if line.lstrip().startswith('#') else line.strip()
            if not line:
                continue
            table = known
            if line.startswith('skip '):
                table, line = skips, line[5:].strip()
            name, _, reason = line.partition(' ')
            if not reason.strip():
                sys.exit(f'{path}:{n}: "{name}" has no reason')
            table[name] = reason.strip()
    return known, skips


class Verdict:
    def __init__(self, known):
        self.known, self.skips = known
        self.cases = []          # (name, status, detail)

    def add(self, name, status, detail=''):
        # A known failure or skip is listed as suite/case (any boot) or
        # boot:suite/case (that boot only).  A skip that is not listed
        # fails: a case that cannot run where it should is not a pass.
        skey = name if name in self.skips else name.split(':', 1)[-1]
        if skey in self.skips:
            if status == 'SKIP':
                detail = self.skips[skey]
            elif status == 'PASS':
                status, detail = 'FAIL', ('runs but is listed as an expected skip in '
                                          'known-failures: remove it from the list')
        elif status == 'SKIP':
            status, detail = 'FAIL', ('skipped, and not listed as an expected skip in '
                                      'known-failures: ' + (detail or 'no reason printed'))
        key = name if name in self.known else name.split(':', 1)[-1]
        if key in self.known:
            if status == 'FAIL':
                status, detail = 'XFAIL', self.known[key]
            elif status == 'PASS':
                status, detail = 'FAIL', ('passes but is listed in known-failures: '
                                          'remove it from the list')
        self.cases.append((name, status, detail))

    def count(self, status):
        return sum(1 for c in self.cases if c[1] == status)


def parse_tap(kunit_parser, lines, suite, verdict):
    """Parse one TAP/KTAP document; add its leaf cases as suite/case."""
    test = kunit_parser.parse_run_tests(lines)
    st = kunit_parser.TestStatus
    found = [0]

    def walk(t, prefix):
        if t.subtests:
            for s in t.subtests:
                walk(s, prefix + [s.name])
            return
        name = '/'.join([suite] + prefix)
        found[0] += 1
        if t.status == st.SUCCESS:
            verdict.add(name, 'PASS')
        elif t.status == st.SKIPPED:
            verdict.add(name, 'SKIP', '\n'.join(t.log[-3:]))
        else:
            verdict.add(name, 'FAIL', '\n'.join(t.log[-15:]))
    if test.status == st.NO_TESTS:
        return                   # "1..0": a gate with nothing to check
    if test.status == st.FAILURE_TO_PARSE_TESTS and not test.subtests:
        verdict.add(suite + '/<parse>', 'FAIL', 'no TAP results found')
        return
    for s in test.subtests:
        walk(s, [s.name])
    if test.counts.errors:
        verdict.add(suite + '/<parse>', 'FAIL', f'{test.counts.errors} TAP errors')


def sections(path):
    """Yield (suite, lines, rc, seconds) for each framed section of a
    results channel (seconds None where the END line has no s=)."""
    cur, buf = None, []
    with open(path, errors='replace') as f:
        for line in f:
            line = line.rstrip('\r\n')
            m = re.match(r'### BEGIN (\S+)$', line)
            if m:
                if cur:
                    yield cur, buf, None, None
                cur, buf = m.group(1), []
                continue
            m = re.match(r'### END (\S+) rc=(\d+)(?: s=(\d+))?$', line)
            if m and cur:
                yield cur, buf, int(m.group(2)), m.group(3)
                cur, buf = None, []
                continue
            if cur:
                buf.append(line)
    if cur:
        yield cur, buf, None, None


def splats(path):
    """Splats on a console.  Between the guest's "harness: faultinject
    begin/end" markers, allocations fail on purpose and the allocator
    reports each failure with a bare stack dump: there, "Call Trace:" alone
    is not a splat; WARNING, BUG, KASAN and the rest still are."""
    out = []
    with open(path, errors='replace') as f:
        lines = [l.rstrip('\r\n') for l in f]
    i = 0
    injecting = False
    while i < len(lines):
        if 'harness: faultinject begin' in lines[i]:
            injecting = True
        elif 'harness: faultinject end' in lines[i]:
            injecting = False
        m = SPLAT.search(lines[i])
        if m and injecting and m.group(1) == 'Call Trace:':
            m = None
        if m:
            out.append('\n'.join(lines[max(0, i - 2):i + 40]))
            i += 40
        else:
            i += 1
    return out


def first_splat(console):
    """First line of CONSOLE that splats() would report, or ''."""
    if not os.path.exists(console):
        return ''
    for line in open(console, errors='replace').read().splitlines():
        if SPLAT.search(line):
            return line.strip()
    return ''


def report_boot(kunit_parser, res, name, verdict, notes):
    meta = {}
    if os.path.exists(os.path.join(res, name + '.meta')):
        with open(os.path.join(res, name + '.meta')) as f:
            meta = dict(kv.split('=', 1) for kv in f.read().split())
    out = os.path.join(res, name + '.out')
    text = open(out, errors='replace').read() if os.path.exists(out) else ''
    times = []
    for suite, lines, rc, secs in sections(out) if text else []:
        if secs is not None:
            times.append(f'{suite} {secs} s')
        before = len(verdict.cases)
        parse_tap(kunit_parser, lines, f'{name}:{suite}', verdict)
        mine = [c[1] for c in verdict.cases[before:]]
        if rc is None:
            verdict.add(f'{name}:{suite}/<exit>', 'FAIL',
                        'output cut off: guest died or timed out')
        elif rc != 0 and 'XFAIL' not in mine:
            # A program that reports its cases passed but exits non-zero
            # failed at something it did not report as a case.
            verdict.add(f'{name}:{suite}/<exit>', 'FAIL', f'exited with status {rc}')
    done = 'GUEST-DONE' in text
    verdict.add(f'boot:{name}/completed', 'PASS' if done else 'FAIL',
                '' if done else f'guest did not finish (qemu exit {meta.get("qemu_rc")}, '
                f'{meta.get("seconds")} s; 124 = timeout)\n' +
                '\n'.join(open(os.path.join(res, name + '.console'),
                               errors='replace').read().splitlines()[-30:]))
    found = splats(os.path.join(res, name + '.console'))
    verdict.add(f'boot:{name}/no-splat', 'FAIL' if found else 'PASS',
                '\n----\n'.join(found[:3]))
    notes.append(f'boot {name}: accel={meta.get("accel")}, {meta.get("seconds")} s' +
                 (f' ({", ".join(times)})' if times else ''))
    if meta.get('retried'):
        # boot.sh booted once more after the known early-boot flake; the
        # first attempt ran nothing of the plan.  Its console counts too:
        # its first splat must be that KASAN report, not one before it.
        first = first_splat(os.path.join(res, name + '.attempt1.console'))
        flake = 'BUG: KASAN: wild-memory-access' in first
        verdict.add(f'boot:{name}/first-attempt', 'PASS' if flake else 'FAIL',
                    '' if flake else 'first splat of the attempt boot.sh retried: ' +
                    (first or 'none'))
        notes.append(f'boot {name}: first attempt died before init after '
                     f'{meta.get("first_seconds")} s ({meta["retried"]}, '
                     f'{name}.attempt1.console); booted once more')


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--tree', required=True, help='kernel tree (for kunit_parser)')
    ap.add_argument('--results', required=True)
    ap.add_argument('--known', required=True)
    ap.add_argument('--label', default='check')
    ap.add_argument('names', nargs='+', help='boots and gates to report')
    a = ap.parse_args()

    sys.path.insert(0, os.path.join(a.tree, 'tools/testing/kunit'))
    import kunit_parser
    import kunit_printer
    # The parser narrates every case; keep only our own summary.
    kunit_parser.stdout = kunit_printer.Printer(io.StringIO())

    verdict = Verdict(load_known(a.known))
    notes = []
    for name in a.names:
        tap = os.path.join(a.results, name + '.tap')
        if os.path.exists(tap):
            with open(tap, errors='replace') as f:
                parse_tap(kunit_parser, f.read().splitlines(), name, verdict)
        elif os.path.exists(os.path.join(a.results, name + '.console')):
            report_boot(kunit_parser, a.results, name, verdict, notes)
        else:
            verdict.add(name + '/<missing>', 'FAIL', 'stage produced no results')

    for name, status, detail in verdict.cases:
        if status == 'FAIL':
            print(f'FAILED  {name}')
            for l in detail.splitlines():
                print('        ' + l)
    for name, status, detail in verdict.cases:
        if status == 'XFAIL':
            print(f'xfail   {name}  ({detail})')
        elif status == 'SKIP':
            print(f'skipped {name}  {detail.splitlines()[-1] if detail else ""}')
    suites = {}
    for name, status, _ in verdict.cases:
        s = suites.setdefault(name.split('/')[0], {})
        s[status] = s.get(status, 0) + 1
    for s, c in suites.items():
        print(f'  {s}: ' + ', '.join(f'{c.get(k, 0)} {v}' for k, v in
              (('PASS', 'passed'), ('FAIL', 'failed'), ('SKIP', 'skipped'),
               ('XFAIL', 'expected failures')) if c.get(k)))
    for n in notes:
        print('  ' + n)
    xf = verdict.count('XFAIL')
    if xf:
        print(f'{a.label}: {xf} expected failures (listed in {os.path.basename(a.known)})')
    failed = verdict.count('FAIL')
    print(f'{a.label}: {verdict.count("PASS")} passed, {failed} failed, '
          f'{verdict.count("SKIP")} skipped')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
