import { Alert, Badge, Button, Group, Select, Table, Text } from "@mantine/core";
import { useEffect, useRef, useState } from "react";
import { Link, useParams } from "react-router-dom";
import { api, errorMessage, type Schemas } from "../api/client";
import { Page } from "../components/Page";
import { statsData, statsText } from "../stream/stats";
import { DesktopViewer, type ViewerStats } from "../stream/viewer";

/** Desktops you may watch and drive. */
export function DesktopsPage() {
  const [desktops, setDesktops] = useState<Schemas["DesktopInfo"][] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    void api.GET("/api/v1/desktops").then(({ data, error }) => {
      if (data) setDesktops(data);
      else setError(errorMessage(error));
    });
  }, []);
  return (
    <Page title="Desktops" intro="Desktops streamed to your browser: watch them and take the keyboard and mouse.">
      {error && <Alert color="red">{error}</Alert>}
      {desktops?.length === 0 && <Text c="dimmed">No desktops. Operators add them with helix serve --desktop ID=DISPLAY.</Text>}
      {!!desktops?.length && (
        <Table>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Desktop</Table.Th>
              <Table.Th>Display</Table.Th>
              <Table.Th>Viewers</Table.Th>
              <Table.Th>Stream</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {desktops.map((d) => (
              <Table.Tr key={d.id}>
                <Table.Td>
                  <Link to={`/desktops/${encodeURIComponent(d.id)}`}>{d.id}</Link>
                </Table.Td>
                <Table.Td>{d.display}</Table.Td>
                <Table.Td>{d.viewers}</Table.Td>
                <Table.Td>{d.streaming ? <Badge>{`${d.width}×${d.height} ${d.encoder}`}</Badge> : <Badge color="gray">idle</Badge>}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
    </Page>
  );
}

/** This tab's id: a reload supersedes the old connection instead of adding a viewer. */
function tabId(): string {
  let id = sessionStorage.getItem("helix-tab-id");
  if (!id) {
    id = Array.from(crypto.getRandomValues(new Uint8Array(8)), (b) => b.toString(16).padStart(2, "0")).join("");
    sessionStorage.setItem("helix-tab-id", id);
  }
  return id;
}

/** One desktop, live: click it to type into it. */
export function DesktopPage() {
  const { id = "" } = useParams();
  const canvas = useRef<HTMLCanvasElement>(null);
  const viewer = useRef<DesktopViewer | null>(null);
  const [stats, setStats] = useState<ViewerStats | null>(null);
  const [clipboard, setClipboard] = useState<string | null>(null);
  useEffect(() => {
    if (!canvas.current) return;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const url = `${scheme}://${location.host}/api/v1/desktops/${encodeURIComponent(id)}/stream?client_id=${tabId()}`;
    // A refused upgrade (signed out, not allowed, no such desktop) looks like a dropped
    // connection to the browser: ask the API before trying again.
    const mayConnect = async () => {
      try {
        const r = await fetch(`/api/v1/desktops/${encodeURIComponent(id)}`, { credentials: "same-origin" });
        return r.ok || r.status >= 500;
      } catch {
        return true;
      }
    };
    const v = new DesktopViewer({ url, canvas: canvas.current, onStats: setStats, onClipboard: setClipboard, mayConnect });
    viewer.current = v;
    v.start();
    return () => v.stop();
  }, [id]);
  return (
    <Page title={`Desktop ${id}`} intro="Click the picture to give it the keyboard; paste sends text.">
      <Group justify="space-between">
        <Text size="sm" data-testid="viewer-stats" {...(stats ? statsData(stats) : {})}>
          {stats ? statsText(stats) : "connecting"}
        </Text>
        <Group gap="xs">
          <Select
            aria-label="Bitrate"
            size="xs"
            w={140}
            data={["1000", "2000", "4000", "8000"].map((v) => ({ value: v, label: `${v} kbit/s` }))}
            value={stats?.bitrateKbps ? String(stats.bitrateKbps) : null}
            onChange={(v) => v && viewer.current?.setBitrate(Number(v))}
          />
          <Button
            size="xs"
            variant="default"
            title="Make your clipboard what the desktop pastes"
            onClick={() => void navigator.clipboard.readText().then((t) => viewer.current?.setClipboard(t))}
          >
            Send clipboard
          </Button>
          <Button size="xs" variant="default" onClick={() => canvas.current?.requestFullscreen()}>
            Full screen
          </Button>
        </Group>
      </Group>
      {clipboard !== null && (
        <Group gap="xs" data-testid="desktop-clipboard">
          <Text size="sm" c="dimmed">
            Desktop clipboard:
          </Text>
          <Text size="sm" lineClamp={1} maw={600} data-testid="desktop-clipboard-text">
            {clipboard}
          </Text>
          <Button size="compact-xs" variant="subtle" onClick={() => void navigator.clipboard.writeText(clipboard)}>
            Copy
          </Button>
        </Group>
      )}
      <canvas
        ref={canvas}
        data-testid="desktop-canvas"
        aria-label={`Desktop ${id}`}
        style={{ width: "100%", background: "#000", outline: "none", touchAction: "none" }}
      />
    </Page>
  );
}
