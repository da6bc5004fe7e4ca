import {
  ActionIcon,
  AppShell,
  Button,
  Group,
  Text,
  Title,
  useComputedColorScheme,
  useMantineColorScheme,
} from "@mantine/core";
import type { ReactNode } from "react";
import { api, type User } from "../api/client";

/** The frame around every signed-in page: title, who is signed in, theme, sign out. */
export function Shell({ user, onSignedOut, children }: { user: User; onSignedOut: () => void; children: ReactNode }) {
  const { setColorScheme } = useMantineColorScheme();
  const scheme = useComputedColorScheme("light");
  const signOut = async () => {
    await api.POST("/api/v1/auth/logout");
    onSignedOut();
  };
  return (
    <AppShell header={{ height: 52 }} padding={0}>
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between">
          <Title order={3}>Helix</Title>
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
      <AppShell.Main>{children}</AppShell.Main>
    </AppShell>
  );
}
