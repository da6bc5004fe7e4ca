import { createContext, useContext } from "react";
import type { Schemas } from "./api/client";

export type Me = Schemas["Me"];

/** Who is signed in, for every page under the shell. */
export const MeContext = createContext<Me | null>(null);

export function useMeContext(): Me {
  const me = useContext(MeContext);
  if (!me) throw new Error("useMeContext outside a signed-in page");
  return me;
}
