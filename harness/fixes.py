#!/usr/bin/env python3
"""Gate "fixes": every Fixes: tag of the series names a verified upstream commit.

    fixes.py --list harness/upstream-commits.tsv PATCH...   KTAP, one case per tag
    fixes.py --list harness/upstream-commits.tsv --selftest

A tag passes when it has the form `Fixes: <12 hex digits> ("<subject>")`
and the id is a CONFIRMED row of the list, with the subject exactly as
listed.  A patch without tags has no case.  --selftest plants a wrong
subject, an unlisted id, an unconfirmed row and a malformed tag, and fails
unless each is caught and a correct tag passes.
"""
import argparse
import re
import sys

TAG = re.compile(r'^Fixes:\s*(.*)$')
FORM = re.compile(r'^([0-9a-f]{12}) \("(.*)"\)$')


def load(path):
    rows = {}
    with open(path, encoding='utf-8') as f:
        for line in f:
            if line.startswith('#') or line.startswith('id12\t'):
                continue
            cols = line.rstrip('\n').split('\t')
            if len(cols) >= 3:
                rows[cols[0]] = (cols[1], cols[2])
    return rows


def check(value, rows):
    """None if the tag's value is fine, else why not."""
    m = FORM.match(value)
    if not m:
        return 'not of the form <12-digit id> ("<subject>")'
    cid, subject = m.groups()
    if cid not in rows:
        return f'{cid} is not in the list of verified commits'
    want, status = rows[cid]
    if not status.startswith('CONFIRMED'):
        return f'{cid} is listed as {status}, not CONFIRMED'
    if subject != want:
        return f'{cid} is "{want}", not "{subject}"'
    return None


def tags(path):
    """Fixes: values of a patch file's commit message (before the ---)."""
    out = []
    with open(path, encoding='utf-8', errors='replace') as f:
        for line in f:
            if line.rstrip('\n') == '---':
                break
            m = TAG.match(line.rstrip('\n'))
            if m:
                out.append(m.group(1).strip())
    return out


def selftest(rows):
    good = [(k, v[0]) for k, v in rows.items() if v[1].startswith('CONFIRMED')]
    bad = [k for k, v in rows.items() if not v[1].startswith('CONFIRMED')]
    if not good:
        print('# no CONFIRMED row to test with')
        return 1
    cid, subject = good[0]
    planted = [
        ('correct tag', f'{cid} ("{subject}")', True),
        ('wrong subject', f'{cid} ("{subject}x")', False),
        ('unlisted id', f'0123456789ab ("{subject}")', False),
        ('short id', f'{cid[:8]} ("{subject}")', False),
        ('no quotes', f'{cid} ({subject})', False),
    ]
    if bad:
        planted.append(('unconfirmed row', f'{bad[0]} ("{rows[bad[0]][0]}")', False))
    print('KTAP version 1')
    print(f'1..{len(planted)}')
    fails = 0
    for i, (name, value, want_ok) in enumerate(planted, 1):
        why = check(value, rows)
        ok = (why is None) == want_ok
        fails += not ok
        if why:
            print(f'# {name}: {why}')
        print(f'{"ok" if ok else "not ok"} {i} {name}')
    return 1 if fails else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--list', required=True)
    ap.add_argument('--selftest', action='store_true')
    ap.add_argument('patches', nargs='*')
    a = ap.parse_args()
    rows = load(a.list)
    if a.selftest:
        return selftest(rows)
    cases = [(p, v) for p in a.patches for v in tags(p)]
    print('KTAP version 1')
    print(f'1..{len(cases)}')
    fails = 0
    for i, (p, v) in enumerate(cases, 1):
        why = check(v, rows)
        name = f'{p.rsplit("/", 1)[-1]}: Fixes: {v[:12]}'
        if why:
            fails += 1
            print(f'# {why}')
        print(f'{"ok" if why is None else "not ok"} {i} {name}')
    return 1 if fails else 0


if __name__ == '__main__':
    sys.exit(main())
