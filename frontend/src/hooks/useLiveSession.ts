import { useEffect, useRef } from "react";
import type { ChatEvent, Interaction } from "../api/client";

type ServerFrame =
  | { type: "snapshot"; session: { id: string; interactions: Interaction[] } }
  | { type: "event"; session_id: string; event: ChatEvent }
  | { type: "error"; session_id?: string; error: { code: string; message: string } }
  | { type: "pong" };

/**
 * Follows a session over `GET /api/v1/ws`: a snapshot first (and again after every
 * reconnect or when the server says to), then its events. Reconnects with backoff.
 */
export function useLiveSession(
  sessionId: string | undefined,
  onSnapshot: (interactions: Interaction[]) => void,
  onEvent: (event: ChatEvent) => void,
) {
  const handlers = useRef({ onSnapshot, onEvent });
  useEffect(() => {
    handlers.current = { onSnapshot, onEvent };
  });
  useEffect(() => {
    if (!sessionId) return;
    let socket: WebSocket | null = null;
    let stopped = false;
    let attempt = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const connect = () => {
      const proto = location.protocol === "https:" ? "wss:" : "ws:";
      socket = new WebSocket(`${proto}//${location.host}/api/v1/ws`);
      socket.onopen = () => {
        attempt = 0;
        socket?.send(JSON.stringify({ type: "subscribe", session_id: sessionId }));
      };
      socket.onmessage = (m) => {
        const frame = JSON.parse(String(m.data)) as ServerFrame;
        if (frame.type === "snapshot" && frame.session.id === sessionId) {
          handlers.current.onSnapshot(frame.session.interactions);
        } else if (frame.type === "event" && frame.session_id === sessionId) {
          handlers.current.onEvent(frame.event);
        }
      };
      socket.onclose = (ev) => {
        // 4401: signed out (or the key revoked) elsewhere; reconnecting cannot help.
        if (stopped || ev.code === 4401) return;
        // Full jitter, 0.5 s doubling up to 15 s.
        const cap = Math.min(15_000, 500 * 2 ** attempt++);
        timer = setTimeout(connect, Math.random() * cap);
      };
    };
    connect();
    return () => {
      stopped = true;
      clearTimeout(timer);
      socket?.close();
    };
  }, [sessionId]);
}
