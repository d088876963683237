#!/usr/bin/env python3
"""Gate "roundtrip": the mboxes go through SMTP and come back as the series.

    roundtrip.py --repo SRC --mbox-dir DIR --series patches/series

DIR holds what `make mbox` writes: <n>-<slug>.mbox and <n>-<slug>/, one
file per mail.  An SMTP server,
aiosmtpd from Debian's python3-aiosmtpd with its stock Maildir handler,
listens on 127.0.0.1 only; `git send-email` sends every topic's
directory to it, in merge order, as a maintainer would send the series.  Then, from what the server
received:

- every topic's mails are there, one per patch plus the cover letter, and
  each patch mail answers its cover letter (In-Reply-To, References);
- `git am` of the received mails, topic after topic, on the base, in a
  scratch worktree, gives the tree of HEAD and the same commit messages
  and authors;
- the same with one received mail altered (one added line of one diff
  changed) must not give the tree of HEAD: the check can fail.

Output: KTAP.  Nothing leaves the machine: the server only stores what it
receives, and it listens on the loopback address alone.
"""
import argparse
import email.header
import mailbox
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from topics import Tap, parse  # noqa: E402

NUM = re.compile(r'\[PATCH (\d+)/(\d+)\]')


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


def listening_on_loopback_only(port):
    """The server's socket is bound to 127.0.0.1, per /proc/net/tcp{,6}."""
    addrs = []
    for path in ('/proc/net/tcp', '/proc/net/tcp6'):
        try:
            lines = open(path).read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            local, state = f[1], f[3]
            ip, p = local.rsplit(':', 1)
            if int(p, 16) == port and state == '0A':
                addrs.append(ip)
    return addrs == ['0100007F'], addrs


def subject_of(msg):
    raw = msg.get('Subject', '')
    s = ''.join(t.decode(c or 'utf-8') if isinstance(t, bytes) else t
                   for t, c in email.header.decode_header(raw))
    return re.sub(r'\s+', ' ', s).strip()


def git(repo, *argv, check=True, **kw):
    return subprocess.run(['git', '-C', repo, *argv], check=check,
                          capture_output=True, text=True, **kw)


def to_mboxrd(msgs, path):
    """Write received messages, in order, as an mboxrd file for git am."""
    with open(path, 'wb') as f:
        for m in msgs:
            raw = m.as_bytes()
            raw = re.sub(rb'(?m)^(>*From )', rb'>\1', raw)
            f.write(b'From mboxrd@z Thu Jan  1 00:00:00 1970\n' + raw.rstrip(b'\n') + b'\n\n')


def apply_all(wt, per_topic, tmp, tag):
    """git am every topic's patch mails on base; (ok, detail)."""
    git(wt, 'reset', '-q', '--hard', 'base')
    for slug, msgs in per_topic:
        path = os.path.join(tmp, f'{tag}-{slug}.mbox')
        to_mboxrd(msgs, path)
        r = git(wt, 'am', '-q', '--patch-format=mboxrd', path, check=False)
        if r.returncode:
            git(wt, 'am', '--abort', check=False)
            return False, f'git am of [{slug}] failed:\n{r.stdout}{r.stderr}'
    return True, ''


def log_of(repo, rng):
    r = git(repo, 'log', '--reverse', '--format=%an <%ae>%n%B%x00', rng)
    return r.stdout.split('\0')


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--repo', required=True)
    ap.add_argument('--mbox-dir', required=True)
    ap.add_argument('--series', required=True)
    ap.add_argument('--from', dest='sender', default='HMM series <hmm-series@example.org>')
    args = ap.parse_args()
    args.mbox_dir = os.path.abspath(args.mbox_dir)
    tap = Tap()
    topics = parse(args.series)
    mboxes = sorted((n for n in os.listdir(args.mbox_dir) if n.endswith('.mbox')),
                    key=lambda n: int(n.split('-', 1)[0]))
    want = [f'{i}-{t[0]}.mbox' for i, t in enumerate(topics, 1)]
    if mboxes != want:
        tap.case(False, 'one mbox per topic', f'have {mboxes}, want {want}')
        return tap.emit()
    tap.case(True, 'one mbox per topic')

    tmp = tempfile.mkdtemp(prefix='roundtrip.')
    maildir = os.path.join(tmp, 'Maildir')
    port = free_port()
    srv = subprocess.Popen(['/usr/bin/python3', '-m', 'aiosmtpd', '-n', '-l', f'127.0.0.1:{port}',
                            '-c', 'aiosmtpd.handlers.Mailbox', maildir],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           start_new_session=True)
    wt = os.path.join(tmp, 'wt')
    try:
        for _ in range(600):  # up to 60 s on a loaded machine
            try:
                socket.create_connection(('127.0.0.1', port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        only, addrs = listening_on_loopback_only(port)
        tap.case(only, 'the SMTP server listens on 127.0.0.1 only', f'bound to {addrs}')
        if not only:
            return tap.emit()

        for name in mboxes:
            r = subprocess.run(['git', 'send-email', '--confirm=never', '--quiet',
                                '--smtp-server=127.0.0.1', f'--smtp-server-port={port}',
                                '--8bit-encoding=UTF-8', '--no-thread', f'--from={args.sender}',
                                os.path.join(args.mbox_dir, name[:-len('.mbox')])],
                               capture_output=True, text=True, stdin=subprocess.DEVNULL,
                               cwd=tmp, timeout=300)
            tap.case(r.returncode == 0, f'git send-email {name[:-5]}/', r.stdout + r.stderr)

        box = mailbox.Maildir(maildir, create=False)
        got = list(box)
        covers, patches = {}, {}
        for m in got:
            s = subject_of(m)
            n = NUM.search(s)
            if not n:
                continue
            k, total = int(n.group(1)), int(n.group(2))
            if k == 0:
                covers[s] = m
            else:
                patches.setdefault(m.get('In-Reply-To', '').strip(), []).append((k, total, m))
        per_topic, used = [], 0
        for i, (slug, title, plist) in enumerate(topics, 1):
            cover_subject = open(os.path.join(os.path.dirname(args.series),
                                              f'cover-{slug}.txt')).readline().strip()
            cov = [m for s, m in covers.items() if s.endswith(cover_subject)]
            if len(cov) != 1:
                tap.case(False, f'[{slug}] received: cover letter and {len(plist)} patches',
                         f'{len(cov)} cover letters with subject "{cover_subject}"')
                per_topic.append((slug, []))
                continue
            cid = cov[0]['Message-Id'].strip()
            mine = sorted(patches.get(cid, []), key=lambda x: x[0])
            used += 1 + len(mine)
            nums = [k for k, _, _ in mine]
            ok = nums == list(range(1, len(plist) + 1)) and all(t == len(plist) for _, t, _ in mine)
            tap.case(ok, f'[{slug}] received: cover letter and {len(plist)} patches',
                     f'patch mails answering {cid}: {nums}')
            refs_ok = all(cid in (m.get('References') or '') for _, _, m in mine)
            tap.case(refs_ok and ok, f'[{slug}] every patch mail answers its cover letter',
                     f'In-Reply-To/References not {cid} in some mails')
            per_topic.append((slug, [m for _, _, m in mine]))
        tap.case(used == len(got), 'no mail outside a thread',
                 f'{len(got)} mails received, {used} in topic threads')

        git(args.repo, 'worktree', 'add', '-q', '--detach', wt, 'base')
        ok, detail = apply_all(wt, per_topic, tmp, 'received')
        head_tree = git(args.repo, 'rev-parse', 'HEAD^{tree}').stdout.strip()
        am_tree = git(wt, 'rev-parse', 'HEAD^{tree}').stdout.strip()
        tap.case(ok and am_tree == head_tree, 'git am of the received mails gives the tree of HEAD',
                 detail or f'tree {am_tree}, HEAD has {head_tree}')
        same = ok and log_of(wt, 'base..HEAD') == log_of(args.repo, 'base..HEAD')
        tap.case(same, 'and the same commit messages and authors',
                 'git log --format="%an <%ae>%n%B" differs')

        # An altered mail: one added line of the first patch with one.
        raw = per_topic[0][1][0].as_bytes() if per_topic[0][1] else b''
        m = re.search(rb'(?m)^\+[^+\n][^\n]*$', raw)
        altered = []
        if m:
            line = m.group(0)
            new = line[:-1] + (b'x' if line[-1:] != b'x' else b'y')
            altered = [mailbox.MaildirMessage(raw.replace(line, new, 1))]
        if not altered:
            tap.case(False, 'an altered mail is caught', 'no added line to alter')
        else:
            bad = [(per_topic[0][0], altered + per_topic[0][1][1:])] + per_topic[1:]
            ok2, detail2 = apply_all(wt, bad, tmp, 'altered')
            tree2 = git(wt, 'rev-parse', 'HEAD^{tree}').stdout.strip()
            tap.case(not ok2 or tree2 != head_tree, 'an altered mail is caught',
                     'the altered mail still gave the tree of HEAD')
    finally:
        os.killpg(srv.pid, signal.SIGTERM)
        srv.wait(timeout=30)
        if os.path.isdir(wt):
            git(args.repo, 'worktree', 'remove', '--force', wt, check=False)
        git(args.repo, 'worktree', 'prune', check=False)
        shutil.rmtree(tmp, ignore_errors=True)
    return tap.emit()


if __name__ == '__main__':
    sys.exit(main())
