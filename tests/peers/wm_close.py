#!/usr/bin/python3
"""Asks the X window titled TITLE to close, as a window manager does when the user clicks its
close button: a WM_DELETE_WINDOW client message (Xvfb runs no window manager to do it).

    wm_close.py TITLE
"""
import sys

from Xlib import X, display, protocol


def windows(d, w):
    yield w
    for child in w.query_tree().children:
        yield from windows(d, child)


def main():
    title = sys.argv[1]
    d = display.Display()
    delete = d.intern_atom("WM_DELETE_WINDOW")
    protocols = d.intern_atom("WM_PROTOCOLS")
    for w in windows(d, d.screen().root):
        try:
            name = w.get_wm_name()
            wm_protocols = w.get_wm_protocols() or []
        except Exception:
            continue
        if name == title and delete in wm_protocols:
            event = protocol.event.ClientMessage(window=w, client_type=protocols, data=(32, [delete, X.CurrentTime, 0, 0, 0]))
            w.send_event(event, event_mask=X.NoEventMask)
            d.flush()
            print(f"asked window {w.id:#x} to close")
            return 0
    print(f"no window titled {title!r} takes WM_DELETE_WINDOW", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
