import { Center, Loader } from "@mantine/core";
import { useCallback, useEffect, useState } from "react";
import { Navigate, Route, Routes } from "react-router-dom";
import { api } from "./api/client";
import { MeContext, type Me } from "./me";
import { ApiKeysPage } from "./pages/ApiKeys";
import { AppsPage } from "./pages/Apps";
import { ProvidersPage } from "./pages/Providers";
import { DesktopPage, DesktopsPage } from "./pages/Desktops";
import { RunnersPage } from "./pages/Runners";
import { Shell } from "./components/Shell";
import { ChatPage } from "./pages/Chat";
import { LoginPage } from "./pages/Login";

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

export function App() {
  const { me, refresh, signOut } = useMe();
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
        <Routes>
          <Route path="/chat/:sessionId?" element={<ChatPage />} />
          <Route path="/apps" element={<AppsPage />} />
          <Route path="/providers" element={<ProvidersPage />} />
          <Route path="/api-keys" element={<ApiKeysPage />} />
          {me.user.is_admin && <Route path="/runners" element={<RunnersPage />} />}
          <Route path="/desktops" element={<DesktopsPage />} />
          <Route path="/desktops/:id" element={<DesktopPage />} />
          <Route path="*" element={<Navigate to="/chat" replace />} />
        </Routes>
      </Shell>
    </MeContext.Provider>
  );
}
