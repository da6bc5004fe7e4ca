import { Alert, Anchor, Button, Card, Center, Divider, PasswordInput, Stack, Text, TextInput, Title } from "@mantine/core";
import { useEffect, useState, type FormEvent } from "react";
import { api, errorMessage } from "../api/client";

/** Sign in, create an account (the first one becomes the site admin), or use SSO. */
export function LoginPage({ onSignedIn }: { onSignedIn: () => void }) {
  const [mode, setMode] = useState<"signin" | "register">("signin");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  // A failed SSO login comes back here with why (a cookie the callback set, read once).
  const [ssoError, setSsoError] = useState<string | null>(takeSsoError);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [config, setConfig] = useState<{ registration_enabled: boolean; oidc_enabled: boolean }>();

  useEffect(() => {
    void api.GET("/api/v1/auth/config").then(({ data }) => data && setConfig(data));
  }, []);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      if (mode === "register") {
        const { error } = await api.POST("/api/v1/auth/register", { body: { email, password } });
        if (error) throw error;
      }
      const { error } = await api.POST("/api/v1/auth/login", { body: { email, password } });
      if (error) throw error;
      onSignedIn();
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Center h="100vh" p="md">
      <Card withBorder shadow="sm" w={380} p="xl">
        <form onSubmit={submit}>
          <Stack>
            <Title order={2}>{mode === "signin" ? "Sign in to Helix" : "Create your account"}</Title>
            {ssoError && !error && (
              <Alert color="red" role="alert" title="Single sign-on failed" withCloseButton onClose={() => setSsoError(null)}>
                {ssoError}
              </Alert>
            )}
            {error && (
              <Alert color="red" role="alert" title="Could not continue">
                {error}
              </Alert>
            )}
            <TextInput label="Email" type="email" required autoComplete="email" value={email} onChange={(e) => setEmail(e.currentTarget.value)} />
            <PasswordInput
              label="Password"
              required
              minLength={8}
              autoComplete={mode === "signin" ? "current-password" : "new-password"}
              value={password}
              onChange={(e) => setPassword(e.currentTarget.value)}
            />
            <Button type="submit" loading={busy}>
              {mode === "signin" ? "Sign in" : "Create account"}
            </Button>
            {config?.registration_enabled !== false && (
              <Text size="sm" ta="center">
                {mode === "signin" ? "New here? " : "Have an account? "}
                <Anchor component="button" type="button" onClick={() => setMode(mode === "signin" ? "register" : "signin")}>
                  {mode === "signin" ? "Create an account" : "Sign in"}
                </Anchor>
              </Text>
            )}
            {config?.oidc_enabled && (
              <>
                <Divider label="or" labelPosition="center" />
                <Button component="a" href="/api/v1/auth/oidc/login" variant="default">
                  Sign in with SSO
                </Button>
              </>
            )}
          </Stack>
        </form>
      </Card>
    </Center>
  );
}

/** The reason the server gave for a failed SSO login, if any; clears it. */
function takeSsoError(): string | null {
  const raw = document.cookie
    .split("; ")
    .find((c) => c.startsWith("helix_sso_error="))
    ?.slice("helix_sso_error=".length);
  if (!raw) return null;
  document.cookie = "helix_sso_error=; Max-Age=0; Path=/";
  try {
    return decodeURIComponent(raw.replace(/\+/g, " "));
  } catch {
    return "Single sign-on failed";
  }
}
