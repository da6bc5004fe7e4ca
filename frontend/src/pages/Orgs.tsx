import { Alert, Badge, Button, Card, Group, Loader, Modal, NativeSelect, Stack, Table, Text, TextInput, Title } from "@mantine/core";
import { useCallback, useContext, useEffect, useState, type FormEvent } from "react";
import { api, errorMessage, type Schemas } from "../api/client";
import { Page, when } from "../components/Page";
import { MeContext } from "../me";

type Org = Schemas["OrgWithRole"];
type Member = Schemas["Member"];
type Role = Schemas["Role"];

const ROLE_LABELS: Record<Role, string> = { owner: "Owner", admin: "Admin", member: "Member" };

/** The roles a caller with `role` may hand out: only owners grant ownership. */
export function grantableRoles(role: Role): Role[] {
  if (role === "owner") return ["owner", "admin", "member"];
  if (role === "admin") return ["admin", "member"];
  return [];
}

const roleOptions = (roles: Role[]) => roles.map((r) => ({ value: r, label: ROLE_LABELS[r] }));

/** Orgs: the caller's, create one, open one to see and manage its members. */
export function OrgsPage() {
  const [orgs, setOrgs] = useState<Org[] | null>(null);
  const [selected, setSelected] = useState<string | null>(null);
  const [name, setName] = useState("");
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(async () => {
    const { data, error } = await api.GET("/api/v1/orgs");
    if (data) setOrgs(data);
    else setError(errorMessage(error));
  }, []);
  useEffect(() => {
    void load();
  }, [load]);

  const create = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    const { data, error } = await api.POST("/api/v1/orgs", { body: { name } });
    if (error || !data) return setError(errorMessage(error));
    setName("");
    setSelected(data.id);
    void load();
  };

  // An org that is gone (deleted, or the caller left it) simply is no longer shown.
  const open = orgs?.find((o) => o.id === selected);

  return (
    <Page title="Orgs" intro="Organizations share providers, apps and usage among their members. Open an org to see and manage its members.">
      {error && (
        <Alert color="red" role="alert">
          {error}
        </Alert>
      )}
      <form onSubmit={create}>
        <Group align="flex-end">
          <TextInput label="Org name" required value={name} onChange={(e) => setName(e.currentTarget.value)} placeholder="Acme" />
          <Button type="submit">Create org</Button>
        </Group>
      </form>
      {orgs === null ? (
        !error && <Loader size="sm" aria-label="Loading orgs" />
      ) : orgs.length === 0 ? (
        <Text c="dimmed">You are not in any org yet</Text>
      ) : (
        <OrgTable orgs={orgs} selected={selected} onOpen={setSelected} />
      )}
      {open && <OrgDetail key={open.id} org={open} onChanged={load} />}
    </Page>
  );
}

function OrgTable({ orgs, selected, onOpen }: { orgs: Org[]; selected: string | null; onOpen: (id: string) => void }) {
  return (
    <Table striped aria-label="Orgs">
      <Table.Thead>
        <Table.Tr>
          <Table.Th>Name</Table.Th>
          <Table.Th>Your role</Table.Th>
          <Table.Th>Created</Table.Th>
          <Table.Th />
        </Table.Tr>
      </Table.Thead>
      <Table.Tbody>
        {orgs.map((o) => (
          <Table.Tr key={o.id} bg={o.id === selected ? "var(--mantine-primary-color-light)" : undefined}>
            <Table.Td>{o.name}</Table.Td>
            <Table.Td>
              <Badge variant="light" color={o.role === "member" ? "gray" : "blue"}>
                {ROLE_LABELS[o.role]}
              </Badge>
            </Table.Td>
            <Table.Td>{when(o.created_at)}</Table.Td>
            <Table.Td>
              <Button size="xs" variant={o.id === selected ? "filled" : "light"} onClick={() => onOpen(o.id)} aria-label={`Open ${o.name}`}>
                Open
              </Button>
            </Table.Td>
          </Table.Tr>
        ))}
      </Table.Tbody>
    </Table>
  );
}

/** One org: its members, and for its owners and admins the means to manage them. */
function OrgDetail({ org, onChanged }: { org: Org; onChanged: () => Promise<void> }) {
  const myId = useContext(MeContext)?.user.id;
  const [members, setMembers] = useState<Member[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const canManage = org.role === "owner" || org.role === "admin";
  const path = { org_id: org.id };

  const load = useCallback(async () => {
    const { data, error } = await api.GET("/api/v1/orgs/{org_id}/members", { params: { path: { org_id: org.id } } });
    if (data) setMembers(data);
    else setError(errorMessage(error));
  }, [org.id]);
  useEffect(() => {
    void load();
  }, [load]);

  /** Runs a change; shows its error; reloads the members and the orgs (the caller's own role may have changed). */
  const change = async (call: () => Promise<{ error?: unknown }>): Promise<boolean> => {
    setError(null);
    const { error } = await call();
    if (error) setError(errorMessage(error));
    // The orgs first: when this org is gone (deleted, or the caller left it) this card goes with it.
    await onChanged();
    await load();
    return !error;
  };

  const setRole = (m: Member, role: Role) =>
    change(() => api.PATCH("/api/v1/orgs/{org_id}/members/{user_id}", { params: { path: { ...path, user_id: m.user_id } }, body: { role } }));
  const remove = (m: Member) => change(() => api.DELETE("/api/v1/orgs/{org_id}/members/{user_id}", { params: { path: { ...path, user_id: m.user_id } } }));

  return (
    <Card withBorder>
      <Stack>
        <Group justify="space-between">
          <Title order={4}>{org.name}</Title>
          <Text c="dimmed" size="sm">
            Your role: {ROLE_LABELS[org.role]}
          </Text>
        </Group>
        {error && (
          <Alert color="red" role="alert">
            {error}
          </Alert>
        )}
        {canManage && <OrgSettings org={org} change={change} />}
        {canManage && <AddMember org={org} change={change} />}
        {members === null ? (
          !error && <Loader size="sm" aria-label="Loading members" />
        ) : members.length === 0 ? (
          <Text c="dimmed">No members</Text>
        ) : (
          <Table striped aria-label={`Members of ${org.name}`}>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Email</Table.Th>
                <Table.Th>Name</Table.Th>
                <Table.Th>Role</Table.Th>
                <Table.Th>Joined</Table.Th>
                <Table.Th />
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {members.map((m) => (
                <MemberRow key={m.user_id} org={org} member={m} isMe={m.user_id === myId} onRole={setRole} onRemove={remove} />
              ))}
            </Table.Tbody>
          </Table>
        )}
      </Stack>
    </Card>
  );
}

type Change = (call: () => Promise<{ error?: unknown }>) => Promise<boolean>;

function MemberRow({
  org,
  member: m,
  isMe,
  onRole,
  onRemove,
}: {
  org: Org;
  member: Member;
  isMe: boolean;
  onRole: (m: Member, role: Role) => void;
  onRemove: (m: Member) => void;
}) {
  const grantable = grantableRoles(org.role);
  // Admins manage members and admins; only owners touch an owner.
  const mayEdit = grantable.includes(m.role);
  return (
    <Table.Tr>
      <Table.Td>
        {m.email}
        {isMe && (
          <Text span c="dimmed" size="sm">
            {" "}
            (you)
          </Text>
        )}
      </Table.Td>
      <Table.Td>{m.name}</Table.Td>
      <Table.Td>
        {mayEdit ? (
          <NativeSelect
            size="xs"
            aria-label={`Role of ${m.email}`}
            data={roleOptions(grantable)}
            value={m.role}
            onChange={(e) => onRole(m, e.currentTarget.value as Role)}
          />
        ) : (
          <Badge variant="light" color={m.role === "member" ? "gray" : "blue"}>
            {ROLE_LABELS[m.role]}
          </Badge>
        )}
      </Table.Td>
      <Table.Td>{when(m.created_at)}</Table.Td>
      <Table.Td>
        {mayEdit ? (
          <Button size="xs" color="red" variant="light" onClick={() => onRemove(m)} aria-label={`Remove ${m.email}`}>
            Remove
          </Button>
        ) : (
          isMe && (
            <Button size="xs" color="red" variant="light" onClick={() => onRemove(m)} aria-label={`Leave ${org.name}`}>
              Leave
            </Button>
          )
        )}
      </Table.Td>
    </Table.Tr>
  );
}

function AddMember({ org, change }: { org: Org; change: Change }) {
  const [email, setEmail] = useState("");
  const [role, setRole] = useState<Role>("member");

  const add = async (e: FormEvent) => {
    e.preventDefault();
    const ok = await change(() => api.POST("/api/v1/orgs/{org_id}/members", { params: { path: { org_id: org.id } }, body: { email: email.trim(), role } }));
    if (ok) setEmail("");
  };

  return (
    <form onSubmit={add}>
      <Group align="flex-end">
        <TextInput label="Member email" type="email" required value={email} onChange={(e) => setEmail(e.currentTarget.value)} placeholder="someone@example.com" />
        <NativeSelect label="Role" data={roleOptions(grantableRoles(org.role))} value={role} onChange={(e) => setRole(e.currentTarget.value as Role)} />
        <Button type="submit">Add member</Button>
      </Group>
    </form>
  );
}

/** Rename (owners and admins) and delete (owners, after a confirmation). */
function OrgSettings({ org, change }: { org: Org; change: Change }) {
  const [name, setName] = useState(org.name);
  const [confirming, setConfirming] = useState(false);

  const rename = async (e: FormEvent) => {
    e.preventDefault();
    await change(() => api.PATCH("/api/v1/orgs/{org_id}", { params: { path: { org_id: org.id } }, body: { name } }));
  };

  const remove = async () => {
    setConfirming(false);
    await change(() => api.DELETE("/api/v1/orgs/{org_id}", { params: { path: { org_id: org.id } } }));
  };

  return (
    <>
      <Modal opened={confirming} onClose={() => setConfirming(false)} title={`Delete ${org.name}?`}>
        <Stack>
          <Text>This deletes the org and everything that belongs to it (its providers, apps and memberships). It cannot be undone.</Text>
          <Group justify="flex-end">
            <Button variant="default" onClick={() => setConfirming(false)}>
              Cancel
            </Button>
            <Button color="red" onClick={remove}>
              Delete forever
            </Button>
          </Group>
        </Stack>
      </Modal>
      <form onSubmit={rename}>
        <Group align="flex-end">
          <TextInput label="New org name" required value={name} onChange={(e) => setName(e.currentTarget.value)} />
          <Button type="submit" variant="light" disabled={name.trim() === "" || name === org.name}>
            Rename org
          </Button>
          {org.role === "owner" && (
            <Button color="red" variant="light" onClick={() => setConfirming(true)}>
              Delete org
            </Button>
          )}
        </Group>
      </form>
    </>
  );
}
