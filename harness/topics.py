#!/usr/bin/env python3
"""Topic series of patches/series, and the gate "order".

patches/series groups the patches under headings of the form

    # [slug] title

Each heading starts a topic series, posted on its own with the cover letter
patches/cover-<slug>.txt.  The first topic must be [fixes]: patches that
apply to the base in order with nothing from a later topic before them.

    topics.py list SERIES
        one line per topic: slug, index of its first and last patch
        (1-based, in series order), title; tab-separated
    topics.py order --series SERIES --patches DIR --repo SRC [--base REV]
        KTAP: the topics are well formed, [fixes] comes first, every fix
        applies to the base in order (git apply --cached into a scratch
        index, so the work tree is not touched), and every fix has a
        Fixes: tag or says why it has none
    topics.py order ... --selftest
        KTAP: the same check must fail when a patch of a later topic that
        needs another later patch is counted as a fix, and when a fix's
        Fixes: tag and explanation are both missing
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

HEAD = re.compile(r'^#\s*\[([a-z0-9-]+)\]\s*(.*)$')


def parse(series):
    """[(slug, title, [patch, ...]), ...]; raises ValueError on bad form."""
    topics, loose = [], []
    with open(series, encoding='utf-8') as f:
        for line in f:
            line = line.rstrip('\n')
            m = HEAD.match(line)
            if m:
                topics.append((m.group(1), m.group(2).strip(), []))
                continue
            name = line.split('#')[0].strip()
            if not name:
                continue
            if not topics:
                loose.append(name)
            else:
                topics[-1][2].append(name)
    if loose:
        raise ValueError(f'{len(loose)} patches before the first "# [slug] title" heading')
    slugs = [t[0] for t in topics]
    dup = sorted({s for s in slugs if slugs.count(s) > 1})
    if dup:
        raise ValueError('topic named twice: ' + ', '.join(dup))
    empty = [t[0] for t in topics if not t[2]]
    if empty:
        raise ValueError('topic without patches: ' + ', '.join(empty))
    return topics


def cmd_list(args):
    n = 0
    for slug, title, patches in parse(args.series):
        print(f'{slug}\t{n + 1}\t{n + len(patches)}\t{title}')
        n += len(patches)


class Tap:
    def __init__(self):
        self.lines, self.n, self.failed = [], 0, 0

    def case(self, ok, name, detail=''):
        self.n += 1
        if not ok:
            self.failed += 1
            self.lines += ['# ' + d for d in detail.strip().splitlines()[:20]]
        self.lines.append(f'{"ok" if ok else "not ok"} {self.n} {name}')

    def emit(self):
        print('KTAP version 1')
        print(f'1..{self.n}')
        print('\n'.join(self.lines))
        return 1 if self.failed else 0


def git(repo, *argv, env=None, check=True):
    return subprocess.run(['git', '-C', repo, *argv], env=env, check=check,
                          capture_output=True, text=True)


def apply_in_order(repo, base, paths):
    """Apply the patch files to base in a scratch index, in order.

    Returns (index of the first patch that does not apply or None, error).
    """
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, GIT_INDEX_FILE=os.path.join(tmp, 'index'))
        git(repo, 'read-tree', base, env=env)
        for i, p in enumerate(paths):
            r = git(repo, 'apply', '--cached', p, env=env, check=False)
            if r.returncode:
                return i, r.stderr
    return None, ''


def explains(path):
    """The patch has a Fixes: tag, or its message says why it has none."""
    text = open(path, encoding='utf-8', errors='replace').read()
    msg = text.split('\n---\n', 1)[0]
    return bool(re.search(r'^Fixes: ', msg, re.M) or re.search(r'Fixes: tag', msg))


def check_order(tap, topics, pdir, repo, base, label=''):
    if not topics or topics[0][0] != 'fixes':
        tap.case(False, label + 'the first topic is [fixes]',
                 'first topic: ' + (topics[0][0] if topics else 'none'))
        return
    tap.case(True, label + 'the first topic is [fixes]')
    fixes = topics[0][2]
    paths = [os.path.join(pdir, p) for p in fixes]
    bad, err = apply_in_order(repo, base, paths)
    tap.case(bad is None, label + f'the {len(fixes)} fixes apply to the base in order',
             '' if bad is None else f'{fixes[bad]} does not apply after the fixes before it:\n{err}')
    for p, path in zip(fixes, paths):
        tap.case(explains(path), label + f'names its origin or says why not: {p}',
                 f'{p}: no Fixes: tag and no sentence about one')


def cmd_order(args):
    tap = Tap()
    try:
        topics = parse(args.series)
    except ValueError as e:
        tap.case(False, 'topic headings', str(e))
        return tap.emit()
    tap.case(True, 'topic headings')
    for slug, _, _ in topics:
        cover = os.path.join(args.patches, f'cover-{slug}.txt')
        tap.case(os.path.isfile(cover), f'cover letter of [{slug}]', f'{cover}: missing')
    if not args.selftest:
        check_order(tap, topics, args.patches, args.repo, args.base)
        return tap.emit()

    # Selftest: a later patch that does not apply to base + fixes, counted
    # as a fix, must be caught; so must a fix with neither tag nor reason.
    fixes = topics[0][2]
    later = [p for t in topics[1:] for p in t[2]]
    fpaths = [os.path.join(args.patches, p) for p in fixes]
    dep = None
    for p in later:
        bad, _ = apply_in_order(args.repo, args.base, fpaths + [os.path.join(args.patches, p)])
        if bad is not None:
            dep = p
            break
    if dep is None:
        tap.case(False, 'a fix that depends on a later patch is caught',
                 'no later patch depends on another one: nothing to plant')
    else:
        planted = [(topics[0][0], '', fixes + [dep])] + list(topics[1:])
        sub = Tap()
        check_order(sub, planted, args.patches, args.repo, args.base)
        tap.case(any(l.startswith('not ok') and 'apply to the base' in l for l in sub.lines),
                 'a fix that depends on a later patch is caught',
                 f'planted {dep} as a fix: ' + '\n'.join(sub.lines))
    with tempfile.TemporaryDirectory() as tmp:
        src = fpaths[0]
        text = open(src, encoding='utf-8').read()
        msg, rest = text.split('\n---\n', 1)
        msg = re.sub(r'^Fixes: .*\n', '', msg, flags=re.M)
        msg = re.sub(r'Fixes: tag', 'tag', msg)
        with open(os.path.join(tmp, fixes[0]), 'w', encoding='utf-8') as f:
            f.write(msg + '\n---\n' + rest)
        tap.case(not explains(os.path.join(tmp, fixes[0])) and explains(src),
                 'a fix without Fixes: tag or reason is caught',
                 f'{fixes[0]} with its tag and reason removed still passes')
    return tap.emit()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    sub = ap.add_subparsers(dest='cmd', required=True)
    p = sub.add_parser('list')
    p.add_argument('series')
    p = sub.add_parser('order')
    p.add_argument('--series', required=True)
    p.add_argument('--patches', required=True)
    p.add_argument('--repo', required=True)
    p.add_argument('--base', default='base')
    p.add_argument('--selftest', action='store_true')
    args = ap.parse_args()
    if getattr(args, 'patches', None):
        args.patches = os.path.abspath(args.patches)
    if args.cmd == 'list':
        return cmd_list(args)
    return cmd_order(args)


if __name__ == '__main__':
    sys.exit(main() or 0)
