#!/usr/bin/env python3
"""Turn a tool's own --help output into a command spec (YAML) for the case
command check: options from the help text, subcommands from its command list."""
import re, subprocess, sys

def run(*args):
    p = subprocess.run(args, capture_output=True, text=True)
    return p.stdout + p.stderr

def gnu_flags(text):
    out = []
    for line in text.splitlines():
        m = re.match(r'^\s{1,8}(?:(-[A-Za-z0-9#]),?\s+)?(--[A-Za-z0-9][\w-]*)(\[?=[^\s\]]+\]?|\s+<[^>]+>|\s+[A-Z][A-Z_|]+\b)?', line)
        if not m:
            m2 = re.match(r'^\s{1,8}(-[A-Za-z0-9])(\s+<[^>]+>|\s+[A-Z][A-Z_]+\b)?\s', line)
            if m2:
                out.append(m2.group(1) + ('=' if m2.group(2) else ''))
            continue
        short, long, arg = m.group(1), m.group(2), m.group(3)
        suffix = ''
        if arg:
            suffix = '=?' if arg.startswith('[') else '='
        out.append((short + '/' if short else '') + long + suffix)
    return sorted(set(out))

def systemd_commands(text):
    cmds = []
    section = False
    for line in text.splitlines():
        if re.match(r'^[A-Z][\w /-]*Commands:$', line) or line.strip() == 'Commands:':
            section = True; continue
        if re.match(r'^Options:', line):
            section = False
        if section:
            m = re.match(r'^  ([a-z][a-z-]+)\b', line)
            if m: cmds.append(m.group(1))
    return sorted(set(cmds))

def emit(tool, source, flags, commands=None, single_dash=False, subflags=None, inherited=False):
    print('# Generated from the tool\'s own --help output on Debian 12 (see source); do not edit by hand.')
    print('tool: ' + tool)
    print('source: "' + source + '"')
    if single_dash: print('single_dash_long: true')
    print('root:')
    print('  flags:')
    for f in flags: print('    - "%s%s"' % ('^' if inherited else '', f))
    if commands:
        print('  commands:')
        for c in commands:
            fl = (subflags or {}).get(c)
            if fl is None:
                print('    %s: {}' % c)
            else:
                print('    %s:' % c); print('      flags:')
                for f in fl: print('        - "%s"' % f)

tool = sys.argv[1]
if tool in ('systemctl', 'timedatectl', 'journalctl'):
    h = run(tool, '--help')
    ver = run('systemctl', '--version').splitlines()[0]
    emit(tool, '%s --help, %s (Debian 12)' % (tool, ver), gnu_flags(h) + ['-h/--help', '--version'], systemd_commands(h) if tool != 'journalctl' else None, inherited=True)
elif tool == 'curl':
    h = run('curl', '--help', 'all')
    ver = run('curl', '--version').splitlines()[0].split(' (')[0]
    emit('curl', 'curl --help all, %s (Debian 12)' % ver, gnu_flags(h))
elif tool == 'openssl':
    ver = run('openssl', 'version').strip()
    subs = sys.argv[2:]
    sf = {}
    for s in subs:
        h = run('openssl', s, '-help')
        fl = []
        for line in h.splitlines():
            m = re.match(r'^\s(-[\w-]+)(\s+\S+)?\s{2,}', line) or re.match(r'^\s(-[\w-]+)(\s+\S+)?$', line)
            if m:
                fl.append(m.group(1) + ('=' if m.group(2) and not m.group(2).strip().startswith('-') else ''))
        sf[s] = sorted(set(fl + ['-help']))
    emit('openssl', 'openssl <command> -help, %s (Debian 12)' % ver, ['-help'], subs, True, sf)
