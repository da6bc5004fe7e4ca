import { Center, Loader } from "@mantine/core";
import { lazy, Suspense, useCallback, useEffect, useState, type ComponentType } from "react";
import { Navigate, Route, Routes, useLocation } from "react-router-dom";
import { api } from "./api/client";
import { MeContext, type Me } from "./me";
import { PageError } from "./components/PageError";
import { Shell } from "./components/Shell";
import { ChatPage } from "./pages/Chat";
import { LoginPage } from "./pages/Login";

/** A page loaded when first visited: each is its own chunk (charts and the stream viewer
 *  are not downloaded to chat). The chat, where everyone lands, is in the main chunk:
 *  fetching it after "who is signed in" would add a round trip to the first page. */
function page<K extends string>(load: () => Promise<Record<K, ComponentType>>, name: K) {
  return lazy(() => load().then((m) => ({ default: m[name] })));
}
const AppsPage = page(() => import("./pages/Apps"), "AppsPage");
const ProvidersPage = page(() => import("./pages/Providers"), "ProvidersPage");
const ApiKeysPage = page(() => import("./pages/ApiKeys"), "ApiKeysPage");
const UsagePage = page(() => import("./pages/Usage"), "UsagePage");
const SandboxesPage = page(() => import("./pages/Sandboxes"), "SandboxesPage");
const DesktopsPage = page(() => import("./pages/Desktops"), "DesktopsPage");
const DesktopPage = page(() => import("./pages/Desktops"), "DesktopPage");
const OrgsPage = page(() => import("./pages/Orgs"), "OrgsPage");
const RunnersPage = page(() => import("./pages/Runners"), "RunnersPage");
const AdminPage = page(() => import("./pages/Admin"), "AdminPage");

/** Who is signed in: `undefined` while asking, `null` when nobody. */
function useMe() {
  const [me, setMe] = useState<Me | null | undefined>(undefined);
  const refresh = useCallback(async () => {
    const { data } = await api.GET("/api/v1/users/me");
    setMe(data ?? null);
  }, []);
  useEffect(() => {
    void refresh();
  }, [refresh]);
  return { me, refresh, signOut: () => setMe(null) };
}

const loading = (
  <Center h="60vh">
    <Loader aria-label="Loading" />
  </Center>
);

export function App() {
  const { me, refresh, signOut } = useMe();
  const { pathname } = useLocation();
  if (me === undefined) {
    return (
      <Center h="100vh">
        <Loader aria-label="Loading" />
      </Center>
    );
  }
  if (me === null) {
    return (
      <Routes>
        <Route path="/login" element={<LoginPage onSignedIn={refresh} />} />
        <Route path="*" element={<Navigate to="/login" replace />} />
      </Routes>
    );
  }
  return (
    <MeContext.Provider value={me}>
      <Shell user={me.user} admin={me.user.is_admin} onSignedOut={signOut}>
        <PageError resetKey={pathname}>
          <Suspense fallback={loading}>
            <Routes>
              <Route path="/chat/:sessionId?" element={<ChatPage />} />
              <Route path="/apps" element={<AppsPage />} />
              <Route path="/providers" element={<ProvidersPage />} />
              <Route path="/api-keys" element={<ApiKeysPage />} />
              <Route path="/usage" element={<UsagePage />} />
              <Route path="/sandboxes" element={<SandboxesPage />} />
              <Route path="/desktops" element={<DesktopsPage />} />
              <Route path="/desktops/:id" element={<DesktopPage />} />
              <Route path="/orgs" element={<OrgsPage />} />
              {me.user.is_admin && <Route path="/runners" element={<RunnersPage />} />}
              {me.user.is_admin && <Route path="/admin" element={<AdminPage />} />}
              <Route path="*" element={<Navigate to="/chat" replace />} />
            </Routes>
          </Suspense>
        </PageError>
      </Shell>
    </MeContext.Provider>
  );
}
