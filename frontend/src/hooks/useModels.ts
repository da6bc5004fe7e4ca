import { useEffect, useState } from "react";

/** The model names the caller may use (`GET /v1/models`). */
export function useModels(): string[] {
  const [models, setModels] = useState<string[]>([]);
  useEffect(() => {
    void fetch("/v1/models", { credentials: "same-origin" })
      .then((r) => (r.ok ? r.json() : { data: [] }))
      .then((list: { data?: { id: string }[] }) => setModels((list.data ?? []).map((m) => m.id)));
  }, []);
  return models;
}
