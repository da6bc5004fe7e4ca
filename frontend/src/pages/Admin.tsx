import { Alert, Badge, Button, Card, Group, Loader, NumberInput, Stack, Switch, Table, Text, TextInput, Title } from "@mantine/core";
import { useCallback, useContext, useEffect, useMemo, useState, type FormEvent } from "react";
import { api, errorMessage, type Schemas, type User } from "../api/client";
import { Page, when } from "../components/Page";
import { MeContext } from "../me";

/** Site administration: instance settings and who is a site admin. */
export function AdminPage() {
  return (
    <Page title="Admin" intro="Instance-wide settings and the site's users. Only site admins see this page.">
      <SettingsCard />
      <UsersCard />
    </Page>
  );
}

/** A limit as the form holds it: a number, or "" for unlimited. */
type Limit = number | string;

interface SettingsForm {
  registration_enabled: boolean;
  user_requests_per_minute: Limit;
  user_tokens_per_minute: Limit;
  user_monthly_tokens: Limit;
}

const LIMITS = [
  { key: "user_requests_per_minute", label: "Requests per minute per user" },
  { key: "user_tokens_per_minute", label: "Tokens per minute per user" },
  { key: "user_monthly_tokens", label: "Tokens per month per user" },
] as const;

function toForm(s: Schemas["InstanceSettings"]): SettingsForm {
  return {
    registration_enabled: s.registration_enabled,
    user_requests_per_minute: s.user_requests_per_minute ?? "",
    user_tokens_per_minute: s.user_tokens_per_minute ?? "",
    user_monthly_tokens: s.user_monthly_tokens ?? "",
  };
}

/** What the server takes for a limit: 0 removes it (an empty box means unlimited). */
function limitValue(v: Limit): number {
  const n = typeof v === "number" ? v : Number(v.trim());
  return v === "" || !Number.isFinite(n) || n < 0 ? 0 : Math.floor(n);
}

function SettingsCard() {
  const [form, setForm] = useState<SettingsForm | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [saved, setSaved] = useState(false);
  const [saving, setSaving] = useState(false);

  useEffect(() => {
    void (async () => {
      const { data, error } = await api.GET("/api/v1/admin/settings");
      if (data) setForm(toForm(data));
      else setError(errorMessage(error));
    })();
  }, []);

  const save = async (e: FormEvent) => {
    e.preventDefault();
    if (!form) return;
    setError(null);
    setSaved(false);
    setSaving(true);
    const { data, error } = await api.PATCH("/api/v1/admin/settings", {
      body: {
        registration_enabled: form.registration_enabled,
        user_requests_per_minute: limitValue(form.user_requests_per_minute),
        user_tokens_per_minute: limitValue(form.user_tokens_per_minute),
        user_monthly_tokens: limitValue(form.user_monthly_tokens),
      },
    });
    setSaving(false);
    if (error || !data) return setError(errorMessage(error));
    setForm(toForm(data));
    setSaved(true);
  };

  return (
    <Card withBorder>
      <Stack>
        <Title order={4}>Settings</Title>
        {error && (
          <Alert color="red" role="alert">
            {error}
          </Alert>
        )}
        {saved && (
          <Alert color="green" role="status" withCloseButton onClose={() => setSaved(false)}>
            Settings saved
          </Alert>
        )}
        {!form ? (
          !error && <Loader size="sm" aria-label="Loading settings" />
        ) : (
          <form onSubmit={save}>
            <Stack>
              <Switch
                label="Anyone may register"
                description="Off: only existing users can sign in; admins add people to orgs by email."
                checked={form.registration_enabled}
                onChange={(e) => {
                  const registration_enabled = e.currentTarget.checked;
                  setForm((f) => f && { ...f, registration_enabled });
                  setSaved(false);
                }}
              />
              <Group grow align="flex-start">
                {LIMITS.map(({ key, label }) => (
                  <NumberInput
                    key={key}
                    label={label}
                    description="Empty: unlimited"
                    placeholder="Unlimited"
                    min={1}
                    allowDecimal={false}
                    allowNegative={false}
                    value={form[key]}
                    onChange={(v) => {
                      setForm((f) => f && { ...f, [key]: v });
                      setSaved(false);
                    }}
                  />
                ))}
              </Group>
              <Group>
                <Button type="submit" loading={saving}>
                  Save settings
                </Button>
              </Group>
            </Stack>
          </form>
        )}
      </Stack>
    </Card>
  );
}

function UsersCard() {
  const myId = useContext(MeContext)?.user.id;
  const [users, setUsers] = useState<User[] | null>(null);
  const [search, setSearch] = useState("");
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(async () => {
    const { data, error } = await api.GET("/api/v1/admin/users");
    if (data) setUsers(data);
    else setError(errorMessage(error));
  }, []);
  useEffect(() => {
    void load();
  }, [load]);

  const setAdmin = async (u: User, is_admin: boolean) => {
    setError(null);
    const { error } = await api.PATCH("/api/v1/admin/users/{user_id}", {
      params: { path: { user_id: u.id } },
      body: { is_admin },
    });
    if (error) setError(errorMessage(error));
    void load();
  };

  const shown = useMemo(() => {
    const q = search.trim().toLowerCase();
    return (users ?? []).filter((u) => !q || u.email.toLowerCase().includes(q) || u.name.toLowerCase().includes(q));
  }, [users, search]);

  return (
    <Card withBorder>
      <Stack>
        <Title order={4}>Users</Title>
        {error && (
          <Alert color="red" role="alert">
            {error}
          </Alert>
        )}
        <TextInput aria-label="Search users" placeholder="Search by email or name" value={search} onChange={(e) => setSearch(e.currentTarget.value)} />
        {users === null ? (
          !error && <Loader size="sm" aria-label="Loading users" />
        ) : shown.length === 0 ? (
          <Text c="dimmed">{users.length === 0 ? "No users yet" : "No users match"}</Text>
        ) : (
          <Table striped aria-label="Users">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Email</Table.Th>
                <Table.Th>Name</Table.Th>
                <Table.Th>Created</Table.Th>
                <Table.Th>Role</Table.Th>
                <Table.Th />
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {shown.map((u) => (
                <Table.Tr key={u.id}>
                  <Table.Td>
                    {u.email}
                    {u.id === myId && (
                      <Text span c="dimmed" size="sm">
                        {" "}
                        (you)
                      </Text>
                    )}
                  </Table.Td>
                  <Table.Td>{u.name}</Table.Td>
                  <Table.Td>{when(u.created_at)}</Table.Td>
                  <Table.Td>
                    <Badge variant="light" color={u.is_admin ? "grape" : "gray"}>
                      {u.is_admin ? "Site admin" : "User"}
                    </Badge>
                  </Table.Td>
                  <Table.Td>
                    {!u.is_admin ? (
                      <Button size="xs" variant="light" onClick={() => setAdmin(u, true)} aria-label={`Make ${u.email} an admin`}>
                        Make admin
                      </Button>
                    ) : (
                      u.id !== myId && (
                        <Button size="xs" color="red" variant="light" onClick={() => setAdmin(u, false)} aria-label={`Remove admin from ${u.email}`}>
                          Remove admin
                        </Button>
                      )
                    )}
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        )}
      </Stack>
    </Card>
  );
}
