import { Stack, Text, Title } from "@mantine/core";
import type { ReactNode } from "react";

/** A settings-style page: a title, what it is for, then its content. */
export function Page({ title, intro, children }: { title: string; intro: string; children: ReactNode }) {
  return (
    <Stack p="lg" maw={1000} gap="md">
      <div>
        <Title order={2}>{title}</Title>
        <Text c="dimmed" size="sm">
          {intro}
        </Text>
      </div>
      {children}
    </Stack>
  );
}

/** A date as the viewer reads it; "never" for none. */
export function when(iso?: string | null): string {
  return iso ? new Date(iso).toLocaleString() : "never";
}
