import { Center, Loader } from "@mantine/core";
import { useCallback, useEffect, useState } from "react";
import { Navigate, Route, Routes } from "react-router-dom";
import { api, type User } from "./api/client";
import { Shell } from "./components/Shell";
import { ChatPage } from "./pages/Chat";
import { LoginPage } from "./pages/Login";

/** Who is signed in: `undefined` while asking, `null` when nobody. */
function useMe() {
  const [me, setMe] = useState<User | null | undefined>(undefined);
  const refresh = useCallback(async () => {
    const { data } = await api.GET("/api/v1/users/me");
    setMe(data?.user ?? null);
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
    <Shell user={me} onSignedOut={signOut}>
      <Routes>
        <Route path="/chat/:sessionId?" element={<ChatPage />} />
        <Route path="*" element={<Navigate to="/chat" replace />} />
      </Routes>
    </Shell>
  );
}
