import { Alert, Button, Code, CopyButton, Group } from "@mantine/core";

/** A new secret (API key, runner token) shown the one time it exists, with Copy. */
export function ShownOnce({ secret, title, testId, onClose }: { secret: string; title: string; testId: string; onClose: () => void }) {
  return (
    <Alert color="green" title={title} onClose={onClose} withCloseButton>
      <Group>
        <Code data-testid={testId}>{secret}</Code>
        <CopyButton value={secret}>
          {({ copied, copy }) => (
            <Button size="xs" variant="light" onClick={copy}>
              {copied ? "Copied" : "Copy"}
            </Button>
          )}
        </CopyButton>
      </Group>
    </Alert>
  );
}
