#!/usr/bin/env python3
"""order_fuzz.py - random order scripts run on weft and on CPython's asyncio,
their traces compared (tests/order/README.md).

    order_fuzz.py BINARY [--seeds A:B] [--workers N] [--show]

BINARY is order_script (order_script.c). For every seed in [A, B) a script
is generated, run by order_script.py in this interpreter and by BINARY on
N workers (default 1). With one worker the traces must be equal, note for
note: weft promises asyncio's exact order there. With several, they must
hold the same notes (nothing lost, nothing run twice, no hang). Prints each
mismatch with its script and exits 1 if any; --show prints every script.

The generator keeps scripts free of deadlocks by construction: task 0
(main) never blocks before its epilogue, which sets every future and
event and feeds every queue get; a task is spawned once, by a task of
lower index, and awaited only by its spawner (and the epilogue); a lock or
a semaphore permit is held only across ops that cannot block (notes,
yields, call_soon, sets, puts), and no task holds two. Only leaves (tasks
with no children) are cancelled, by their spawner: a cancelled task's
remaining ops (spawns) never run, an await that raises CancelledError is
then always the awaited task's, and what the task held it gives back. As
cancelling a task cancels the future it awaits (and so every other waiter
of it), only cancellable tasks await the last future, and no other. A
section may spawn a child (which then begins with a section of the same
object, so it may queue there) and cancel one; permits given back without a
take (a bare R before a section, or after one that is taken again at once)
only add permits, which cannot block anyone.
"""
import os
import random
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import order_script  # noqa: E402

NOTES = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'
OBJS = 4  # futures, events, queues and locks 0..3 (queue k bounded at k)
PUT_QUEUES = order_script.PUT_QUEUES  # 5..7, bounded at 1..3


def generate(rng, cancels=True, gathers=False, barriers=True, extras=True, notes_items=True):
    # The ops added later (Event.clear, blocking puts, get_nowait) come from
    # a draw of their own, seeded from the main draw's state without taking
    # from it: a script without them is the one the seed always made.
    extra_draw = random.Random(hash(rng.getstate()[1]))
    ntasks = rng.randint(2, 7)
    spawner = {k: rng.randrange(0, k) for k in range(1, ntasks)}
    # Leaves (no children) may be cancelled, by their spawner.
    leaves = {k for k in range(1, ntasks) if k not in spawner.values()}
    cancellable = {k for k in leaves if cancels and rng.random() < 0.5}
    script = [[] for _ in range(ntasks)]
    marks = iter(NOTES * 4)
    barrier_draw = random.Random(rng.random())

    def note(ops):
        ops.append('N ' + next(marks))

    lead = {}  # a child spawned in a section begins with a section of the same object
    for t in range(ntasks):
        ops = script[t]
        if t in lead:
            take, give, obj = lead[t]
            if take == 'K':
                ops.extend([extra_draw.choice('Kk') + ' %d' % obj, 'N ' + next(marks)])
            elif take == 'O':
                ops.extend(['O %d' % obj, 'N ' + next(marks)])
            else:
                ops.extend(['%s %d' % (take, obj), 'N ' + next(marks), '%s %d' % (give, obj)])
        children = [k for k in range(1, ntasks) if spawner[k] == t]
        rng.shuffle(children)
        spawned = []
        nops = rng.randint(1, 9)
        for _ in range(nops):
            r = rng.random()
            if barriers and t and t not in cancellable and barrier_draw.random() < 0.08:
                # Barriers 0 and 1 (2 and 3 parties), from their own draw so
                # that adding them changed no other script; a task may come
                # back for the next round.
                for _ in range(barrier_draw.randint(1, 3)):
                    ops.append('O %d' % barrier_draw.randrange(2))
            elif extras and extra_draw.random() < 0.1:
                # Only main clears an event (before its epilogue sets them
                # all); blocking puts go to the put queues (5-7), which the
                # epilogue drains, and only tasks block; get_nowait on any.
                x = extra_draw.random()
                if extra_draw.random() < 0.3:
                    # The join queue (4): puts, takes marked done, joins
                    # (tasks only); order_script.py says why joins end.
                    y = extra_draw.random()
                    ops.append('j 4' if t and y < 0.35 else 'P 4' if y < 0.7 else 'd 4')
                elif t and x < 0.1:
                    # Cancelling a shield's awaiter cancels the outer
                    # future only: any task may shield any future.
                    ops.append('h %d' % extra_draw.randrange(OBJS))
                elif barriers and t in cancellable and x < 0.15:
                    ops.append('O %d' % extra_draw.randrange(2))  # may be cancelled there
                elif t == 0 and x < 0.25:
                    ops.append('H %d' % extra_draw.randrange(OBJS))
                elif t and x < 0.6:
                    ops.append('I %d' % extra_draw.choice(PUT_QUEUES))
                elif x < 0.8:
                    ops.append('P %d' % extra_draw.choice(PUT_QUEUES))
                else:
                    ops.append('g %d' % extra_draw.choice(list(range(OBJS)) + list(PUT_QUEUES)))
            elif children and r < 0.22:
                k = children.pop()
                if extras and t and extra_draw.random() < 0.25:
                    # Spawned in a TaskGroup left at once (main never
                    # blocks before its epilogue, so only other tasks).
                    ops.append('t %d' % k)
                else:
                    ops.append('S %d' % k)
                spawned.append(k)
            elif r < 0.40:
                ops.append('Y')
            elif r < 0.47:
                ops.append('C ' + next(marks))
            elif r < 0.50:
                ops.append('T ' + next(marks))
            elif r < 0.58:
                ops.append('F %d' % rng.randrange(OBJS))
            elif r < 0.62:
                ops.append('E %d' % rng.randrange(OBJS))
            elif r < 0.64:
                ops.append('B %d' % rng.randrange(OBJS - 1))
            elif r < 0.70:
                ops.append('P %d' % rng.randrange(OBJS))
            elif t and r < 0.75:
                # Cancelling a task cancels the future it awaits, and every
                # other waiter with it: only cancellable tasks await the
                # last future, and they await no other.
                ops.append('W %d' % (OBJS - 1 if t in cancellable else rng.randrange(OBJS - 1)))
            elif t and r < 0.80:
                ops.append('V %d' % rng.randrange(OBJS))
            elif t and r < 0.83:
                # With one worker the item a get took is noted too (q): with
                # several, which items are left over depends on timing.
                code = 'q' if extras and notes_items and extra_draw.random() < 0.5 else 'Q'
                ops.append('%s %d' % (code, rng.randrange(OBJS)))
            elif t and t not in cancellable and r < 0.835:
                ops.append('K %d' % rng.randrange(OBJS))
            elif r < 0.84:
                ops.append('J %d' % rng.randrange(OBJS))
            elif barriers and t == 0 and r < 0.87:
                # Only main resets a barrier: a reset after the epilogue's
                # abort would make it whole again, and its waiters wait on.
                ops.append('D %d' % rng.randrange(2))
            elif t and gathers and t not in cancellable and r < 0.85:
                # gather, or asyncio.wait on the same two futures
                code = 'w' if extras and extra_draw.random() < 0.4 else 'G'
                ops.append('%s %d' % (code, rng.randrange(OBJS - 2)))
            elif t and spawned and r < 0.90:
                ops.append('A %d' % rng.choice(spawned))
            elif t in cancellable and r < 0.905:
                ops.append('Z')
            elif [k for k in spawned if k in cancellable] and r < 0.93:
                ops.append('X %d' % rng.choice([k for k in spawned if k in cancellable]))
            elif t and r < 0.97:
                # A lock's or a semaphore's section: held across ops that
                # cannot block only.
                take, give = rng.choice([('L', 'U'), ('M', 'R')])
                obj = rng.randrange(OBJS)
                if extras and take == 'M' and extra_draw.random() < 0.25:
                    # Permits given back without a take (a Semaphore
                    # allows it): with waiters, a granted waiter that has
                    # not run yet and this section's take meet.
                    ops.extend(['R %d' % obj] * extra_draw.randint(1, 2))
                ops.append('%s %d' % (take, obj))
                if extras and extra_draw.random() < 0.4:
                    # While holding it: spawn a child (which may queue on
                    # it), let it run, cancel one (which may be queued):
                    # the give below then meets a cancelled waiter.
                    waits_on_cond = extra_draw.random() < 0.3
                    at_barrier = barriers and not waits_on_cond and extra_draw.random() < 0.2
                    # One child (two waiting on a condition or at the
                    # three-party barrier, so that a notify may skip the
                    # first, cancelled, or the barrier count it out).
                    for _ in range(2 if waits_on_cond or at_barrier else 1):
                        if children and extra_draw.random() < 0.6:
                            k = children.pop()
                            ops.append('S %d' % k)
                            spawned.append(k)
                            # It begins with a take of it, or waits on a
                            # condition that is notified below, or at
                            # barrier 1.
                            lead[k] = (('K', None, obj) if waits_on_cond else
                                       ('O', None, 1) if at_barrier else (take, give, obj))
                    ops.append('Y')
                    victims = [k for k in spawned if k in cancellable]
                    if victims:
                        ops.append('X %d' % extra_draw.choice(victims))
                    if waits_on_cond:
                        ops.append('J %d' % obj)
                for _ in range(rng.randint(0, 3)):
                    ops.append(rng.choice(['Y', 'N ' + next(marks), 'C ' + next(marks),
                                           'F %d' % rng.randrange(OBJS), 'E %d' % rng.randrange(OBJS),
                                           'P %d' % rng.randrange(OBJS)]))
                ops.append('%s %d' % (give, obj))
                if extras and extra_draw.random() < 0.2:
                    # Taken again at once: a newcomer meeting the waiters
                    # the give just woke (or skipped); with a permit given
                    # back first, one free while a woken waiter has not run.
                    if take == 'M' and extra_draw.random() < 0.5:
                        ops.append('R %d' % obj)
                    ops.extend(['%s %d' % (take, obj), 'N ' + next(marks), '%s %d' % (give, obj)])
            else:
                note(ops)
            if rng.random() < 0.5:
                note(ops)
        for k in children:  # every child is spawned
            ops.append('S %d' % k)
    return ';'.join(' '.join(ops) for ops in script)


class Hang(Exception):
    pass


def on_alarm(signum, frame):
    raise Hang('asyncio did not finish the script in 60 s')


def main():
    signal.signal(signal.SIGALRM, on_alarm)
    args = sys.argv[1:]
    if not args:
        print(__doc__, file=sys.stderr)
        return 2
    binary, lo, hi, workers, show = args[0], 0, 200, 1, False
    i = 1
    while i < len(args):
        if args[i] == '--seeds':
            lo, hi = (int(x) for x in args[i + 1].split(':'))
            i += 2
        elif args[i] == '--workers':
            workers = int(args[i + 1])
            i += 2
        elif args[i] == '--show':
            show = True
            i += 1
        else:
            print('unknown argument ' + args[i], file=sys.stderr)
            return 2
    bad = 0
    for seed in range(lo, hi):
        # With several workers a cancellation's point, a put_nowait's
        # finding the queue full and a barrier's indices (or its abort
        # coming first) depend on timing: no cancels, no barriers, no '!'.
        script = generate(random.Random(seed), cancels=workers == 1, gathers=True,
                          barriers=workers == 1, notes_items=workers == 1)
        signal.alarm(60)  # a script that hangs asyncio is the generator's bug
        try:
            want = order_script.run(script)
        except Exception as e:  # a script the generator should not make
            print('seed %d: %s\n  asyncio failed: %r' % (seed, script, e))
            bad += 1
            continue
        finally:
            signal.alarm(0)
        got = subprocess.run([binary, str(workers), script], capture_output=True, text=True, timeout=60)
        trace = got.stdout.strip()
        same = trace == want if workers == 1 else \
            sorted(trace.replace('!', '')) == sorted(want.replace('!', ''))
        if show or got.returncode or not same:
            print('seed %d: %s\n  asyncio: %s\n  weft:    %s%s' %
                  (seed, script, want, trace, ('  (exit %d: %s)' % (got.returncode, got.stderr.strip()))
                   if got.returncode else ''))
        if got.returncode or not same:
            bad += 1
    print('order_fuzz: %d of %d scripts differ (workers=%d)' % (bad, hi - lo, workers))
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
