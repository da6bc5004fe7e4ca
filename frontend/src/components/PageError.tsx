import { Alert, Button, Stack, Text } from "@mantine/core";
import { Component, type ReactNode } from "react";

/**
 * Catches a page that failed to load or render, so the rest of the app stays. The usual
 * cause is a page chunk that is gone because Helix was updated while this tab was open:
 * reloading fetches the new build.
 */
export class PageError extends Component<{ children: ReactNode; resetKey: string }, { error: Error | null }> {
  state = { error: null as Error | null };

  static getDerivedStateFromError(error: Error) {
    return { error };
  }

  componentDidUpdate(prev: { resetKey: string }) {
    // Moving to another page tries again.
    if (prev.resetKey !== this.props.resetKey && this.state.error) this.setState({ error: null });
  }

  render() {
    if (!this.state.error) return this.props.children;
    const chunk = /dynamically imported module|Importing a module script failed|error loading dynamically/i.test(this.state.error.message);
    return (
      <Stack p="lg" maw={640}>
        <Alert color="red" role="alert" title="This page could not be shown">
          <Text size="sm">{chunk ? "Helix was probably updated since this tab was opened." : this.state.error.message}</Text>
        </Alert>
        <Button w="fit-content" onClick={() => location.reload()}>
          Reload
        </Button>
      </Stack>
    );
  }
}
