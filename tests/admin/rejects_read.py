#!/usr/bin/python3
# rejects_read.py - admin_rejects_test's independent reader of `kc-admin rejects`
# output and of GET /v1/rejects bodies: Python's own csv (utf-8-sig) and json.
#   rejects_read.py csv|csv-nobom|json|labels|labels-vi FILE T0 T1
# Prints one line per row, "producer|epoch|seq|reason|province|province_name|
# event_id|time|text", where epoch is "0" or "e" (any other: a spool's), time is "time" if the received time lies within
# T0-1 .. T1+1 (seconds since the epoch; CSV: local time as TZ says), "none"
# if empty/null, else "BAD:<value>"; text is "text" if non-empty; then for JSON
# "count=N truncated=true|false". labels (English CSV) and labels-vi (CSV of
# --lang vi: its Vietnamese header) print "reason|reason_label" per row.
# Exit 1 on any malformed document.
import csv
import json
import re
import sys
import time
import calendar

mode, path, t0, t1 = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
raw = open(path, 'rb').read()
FIELDS = ['producer', 'epoch', 'seq', 'reason', 'province', 'province_name', 'event_id']
HEAD = ['received', 'producer', 'epoch', 'seq', 'reason', 'reason_label', 'province',
        'province_name', 'event_id', 'text']
HEAD_VI = ['Thời gian nhận', 'Nguồn gửi', 'Kỳ (epoch)', 'Số thứ tự', 'Mã lý do', 'Lý do',
           'Mã tỉnh', 'Tỉnh, thành phố', 'Mã sự kiện', 'Chi tiết']


def when(ok, v):
    if v in (None, ''):
        return 'none'
    return 'time' if ok else 'BAD:' + str(v)


def show(v):
    return '-' if v in (None, '') else str(v)


def row(d):
    d = dict(d)
    d['epoch'] = '0' if str(d['epoch']) == '0' else 'e'
    return [show(d[f]) for f in FIELDS]


if mode.startswith('labels'):
    if not raw.startswith(b'\xef\xbb\xbf'):
        sys.exit('no byte order mark')
    rows = list(csv.reader(raw.decode('utf-8-sig').splitlines()))
    if rows[0] != (HEAD_VI if mode == 'labels-vi' else HEAD):
        sys.exit('header %r' % rows[0])
    for r in rows[1:]:
        if len(r) != len(HEAD):
            sys.exit('row %r' % r)
        d = dict(zip(HEAD, r))
        print('%s|%s' % (d['reason'], d['reason_label']))
elif mode.startswith('csv'):
    has_bom = raw.startswith(b'\xef\xbb\xbf')
    if has_bom != (mode == 'csv'):
        sys.exit('byte order mark: %s' % has_bom)
    rows = list(csv.reader(raw.decode('utf-8-sig').splitlines()))
    head = HEAD
    if rows[0] != head:
        sys.exit('header %r' % rows[0])
    for r in rows[1:]:
        d = dict(zip(head, r))
        if len(r) != len(head):
            sys.exit('row %r' % r)
        ok = False
        if d['received']:
            e = time.mktime(time.strptime(d['received'], '%Y-%m-%d %H:%M:%S'))
            ok = t0 - 1 <= e <= t1 + 1
        print('|'.join(row(d) + [when(ok, d['received']),
                                                        'text' if d['text'] else '-']))
else:
    d = json.loads(raw.decode('utf-8'))
    if set(d) != {'rejects', 'count', 'truncated'}:
        sys.exit('members %r' % sorted(d))
    for r in d['rejects']:
        if set(r) != set(FIELDS + ['text', 'received']):
            sys.exit('row members %r' % sorted(r))
        v, ok = r['received'], False
        if v is not None:
            m = re.fullmatch(r'(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.\d{9}Z', v)
            if not m:
                sys.exit('received %r' % v)
            e = calendar.timegm(time.strptime(m.group(1), '%Y-%m-%dT%H:%M:%S'))
            ok = t0 - 1 <= e <= t1 + 1
        if not isinstance(r['epoch'], int) or not isinstance(r['seq'], int):
            sys.exit('epoch/seq %r' % r)
        print('|'.join(row(r) + [when(ok, v),
                                                        'text' if r['text'] else '-']))
    print('count=%d truncated=%s' % (d['count'], 'true' if d['truncated'] else 'false'))
