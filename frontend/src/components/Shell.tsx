import {
  ActionIcon,
  Alert,
  AppShell,
  Button,
  Group,
  Text,
  Title,
  useComputedColorScheme,
  useMantineColorScheme,
} from "@mantine/core";
import { useState, type ReactNode } from "react";
import { Link, useLocation } from "react-router-dom";
import { api, errorMessage, type User } from "../api/client";

const PAGES: [string, string][] = [
  ["/chat", "Chat"],
  ["/apps", "Apps"],
  ["/providers", "Providers"],
  ["/api-keys", "API keys"],
  ["/usage", "Usage"],
  ["/sandboxes", "Sandboxes"],
  ["/desktops", "Desktops"],
  ["/orgs", "Orgs"],
];

const ADMIN_PAGES: [string, string][] = [
  ["/runners", "Runners"],
  ["/admin", "Admin"],
];

/** The frame around every signed-in page: title, who is signed in, theme, sign out. */
export function Shell({
  user,
  admin,
  onSignedOut,
  children,
}: {
  user: User;
  admin: boolean;
  onSignedOut: () => void;
  children: ReactNode;
}) {
  const { setColorScheme } = useMantineColorScheme();
  const scheme = useComputedColorScheme("light");
  const { pathname } = useLocation();
  const [error, setError] = useState<string | null>(null);
  const signOut = async () => {
    const { error, response } = await api.POST("/api/v1/auth/logout");
    // Only a confirmed sign-out leaves the page: otherwise the session may still be valid.
    if (error || !response.ok) return setError(`Sign-out failed: ${errorMessage(error)}`);
    onSignedOut();
  };
  return (
    <AppShell header={{ height: 52 }} padding={0}>
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between">
          <Group gap="lg">
            <Title order={3}>Helix</Title>
            <Group gap={4} component="nav" aria-label="Main">
              {[...PAGES, ...(admin ? ADMIN_PAGES : [])].map(([to, label]) => (
                <Button
                  key={to}
                  component={Link}
                  to={to}
                  size="xs"
                  variant={pathname.startsWith(to) ? "light" : "subtle"}
                  aria-current={pathname.startsWith(to) ? "page" : undefined}
                >
                  {label}
                </Button>
              ))}
            </Group>
          </Group>
          <Group gap="sm">
            <Text size="sm" c="dimmed" data-testid="signed-in-as">
              {user.email}
            </Text>
            <ActionIcon
              variant="default"
              aria-label={scheme === "dark" ? "Use light theme" : "Use dark theme"}
              onClick={() => setColorScheme(scheme === "dark" ? "light" : "dark")}
            >
              {scheme === "dark" ? "☀" : "☾"}
            </ActionIcon>
            <Button variant="default" size="xs" onClick={signOut}>
              Sign out
            </Button>
          </Group>
        </Group>
      </AppShell.Header>
      <AppShell.Main>
        {error && (
          <Alert color="red" role="alert" withCloseButton onClose={() => setError(null)} m="sm">
            {error}
          </Alert>
        )}
        {children}
      </AppShell.Main>
    </AppShell>
  );
}
