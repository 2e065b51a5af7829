import { useQuery } from "@tanstack/react-query";
import { api, keys } from "../api/endpoints";
import type { Assistant } from "../api/types";

/** The seeds' assistant; used until (or unless) the tenant's own assistants can be read. */
export const DEFAULT_ASSISTANT_NAME = "Nora";

/** The tenant's assistants (agents without the manager role get 403: then none are known). */
export function useAssistants(): Assistant[] {
  const q = useQuery({
    queryKey: keys.assistants,
    queryFn: async () => {
      try {
        return await api.assistants();
      } catch {
        return [];
      }
    },
    staleTime: Infinity,
    retry: false,
  });
  return q.data ?? [];
}

export function useAssistantName(assistantId?: string | null): string {
  const assistants = useAssistants();
  const match = assistantId ? assistants.find((a) => a.id === assistantId) : undefined;
  return (match ?? assistants[0])?.name ?? DEFAULT_ASSISTANT_NAME;
}
