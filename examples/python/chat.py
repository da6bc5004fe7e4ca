"""Chat with a model through a Helix server, printing the answer as it is written.

    pip install helix-*.whl   # bindings/python (see bindings/README.md)
    HELIX_URL=http://localhost:8080 HELIX_API_KEY=hx-... python chat.py MODEL "Hello!"
"""

from __future__ import annotations

import sys
import time

from helix import Helix, HelixError


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print("usage: chat.py MODEL [MESSAGE...]", file=sys.stderr)
        return 2
    model = argv[1]
    messages = argv[2:] or ["Say hello in five words."]
    client = Helix()  # HELIX_URL / HELIX_API_KEY
    try:
        session = client.create_session(model=model, name="chat.py")
        for message in messages:
            print(f"> {message}")
            start = time.monotonic()
            first = None
            pieces = 0
            stream = client.chat(session["id"], message)
            for text in stream:  # text pieces, as the model writes them
                if first is None:
                    first = time.monotonic() - start
                pieces += 1
                print(text, end="", flush=True)
            answer = stream.interaction
            assert answer is not None
            usage = answer["usage"] or {}
            print(
                f"\n[{pieces} pieces, first after {1000 * (first or 0):.0f} ms, "
                f"{usage.get('completion_tokens', '?')} tokens]"
            )
        # The session keeps the conversation.
        kept = client.get_session(session["id"])
        print(f"session {session['id']}: {len(kept['interactions'])} messages")
        client.delete_session(session["id"])
    except HelixError as e:
        print(f"error: {e.code} ({e.status}): {e.message}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
