#!/usr/bin/python3
"""A small XEP-0114 component on slixmpp (Debian: python3-slixmpp), used by
examples/demo.sh and the gateway tests to talk to xs2s-gateway as a real
component would.

  component.py --jid bot.a.test --secret S --port 5347 --echo 1
      answer the first message with "re: BODY", then leave
  component.py --jid bot.a.test --secret S --port 5347 \\
          --send echo@bot.b.test --body hello
      send one message and wait for the answer (a reply or an error)
  component.py ... --raw '<message from="x@elsewhere" to="..."/>'
      send raw XML and report how the gateway answers

Exit status: 0 success; 2 the stream failed (e.g. not-authorized); 3 an
error reply came back (its condition is printed); 4 nothing came in time.
Every event is one line on stdout, prefixed with the component's domain.
"""
import argparse
import asyncio
import logging
import sys

# Before slixmpp is imported: it logs a performance hint at import time.
logging.basicConfig(level=logging.CRITICAL)
from slixmpp.componentxmpp import ComponentXMPP  # noqa: E402


STANZA_ERRORS = "{urn:ietf:params:xml:ns:xmpp-stanzas}"


def error_of(msg):
    """The condition and text of an error stanza, read from the XML: the
    slixmpp 1.8 error plugin recognises <error/> in jabber:client only, not
    in a component stream's namespace."""
    cond, text = "undefined-condition", ""
    for err in msg.xml:
        if not err.tag.endswith("}error"):
            continue
        for c in err:
            if not c.tag.startswith(STANZA_ERRORS):
                continue
            if c.tag == STANZA_ERRORS + "text":
                text = c.text or ""
            else:
                cond = c.tag[len(STANZA_ERRORS):]
    return cond, text


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--jid", required=True)
    ap.add_argument("--secret", required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=5347)
    ap.add_argument("--echo", type=int, default=None,
                    help="answer this many messages (0: until stopped)")
    ap.add_argument("--send", help="send a message to this JID")
    ap.add_argument("--from", dest="sender", help="'from' of the message")
    ap.add_argument("--body", default="hello")
    ap.add_argument("--raw", help="send this XML once connected")
    ap.add_argument("--timeout", type=float, default=20.0)
    args = ap.parse_args()

    me = args.jid
    xmpp = ComponentXMPP(me, args.secret, args.host, args.port)
    loop = asyncio.get_event_loop()
    done = loop.create_future()
    state = {"answered": 0, "connected": False}

    def say(text):
        print("[%s] %s" % (me, text), flush=True)

    def finish(code):
        if not done.done():
            done.set_result(code)

    def on_start(_):
        state["connected"] = True
        say("connected to the gateway on %s:%d, handshake accepted"
            % (args.host, args.port))
        if args.send:
            sender = args.sender or ("demo@" + me)
            say("sending to %s: %s" % (args.send, args.body))
            xmpp.send_message(mto=args.send, mfrom=sender, mbody=args.body,
                              mtype="chat")
        if args.raw:
            say("sending raw: %s" % args.raw)
            xmpp.send_raw(args.raw)

    def on_message(msg):
        if msg["type"] == "error":
            cond, text = error_of(msg)
            say("error reply from %s: %s%s" % (
                msg["from"], cond, (" (%s)" % text) if text else ""))
            finish(3)
            return
        body = msg["body"]
        if args.send:
            say("received reply from %s: %s" % (msg["from"], body))
            finish(0)
            return
        say("received from %s: %s" % (msg["from"], body))
        if args.echo is not None:
            reply = "re: " + body
            say("replying to %s: %s" % (msg["from"], reply))
            msg.reply(reply).send()
            state["answered"] += 1
            if args.echo and state["answered"] >= args.echo:
                # Let the reply leave before closing the stream.
                loop.call_later(0.2, finish, 0)

    def on_stream_error(err):
        say("stream error: %s%s" % (
            err["condition"],
            (" (%s)" % err["text"]) if err["text"] else ""))
        finish(2)

    def on_disconnected(_):
        if not done.done():
            say("disconnected")
        finish(2 if not state["connected"] or args.raw else 0)

    xmpp.add_event_handler("session_start", on_start)
    xmpp.add_event_handler("message", on_message)
    xmpp.add_event_handler("stream_error", on_stream_error)
    xmpp.add_event_handler("disconnected", on_disconnected)
    xmpp.add_event_handler("connection_failed",
                           lambda e: (say("cannot connect: %s" % e),
                                      finish(2)))
    xmpp.connect()
    timeout = None if args.echo == 0 else args.timeout
    try:
        code = loop.run_until_complete(asyncio.wait_for(done, timeout))
    except asyncio.TimeoutError:
        say("nothing came within %.0f s" % args.timeout)
        code = 4
    if state["connected"] and code != 2:
        loop.run_until_complete(xmpp.disconnect(wait=1.0))
    sys.exit(code)


if __name__ == "__main__":
    main()
