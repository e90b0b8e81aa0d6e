import { useQuery } from "@tanstack/react-query";
import { api } from "./api";

export const AUTH_KEY = ["auth", "state"] as const;

/** Single-user or accounts mode, and who is signed in (never 401s). */
export function useAuthState() {
  return useQuery({
    queryKey: AUTH_KEY,
    queryFn: ({ signal }) => api.get("/auth/state", { signal }),
    staleTime: 60_000,
  });
}

/** Only same-site paths are followed after login (no `//evil.com`, no `https://...`). */
export function safeNext(next: string | null | undefined): string {
  if (!next || !next.startsWith("/") || next.startsWith("//") || next.startsWith("/\\")) return "/";
  return next;
}
