import { Suspense, useEffect, useState } from "react";
import { Link, NavLink, Outlet, useLocation, useNavigate } from "react-router";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { ArrowLeftRight, Boxes, CircleUser, Database, FileUp, FlaskConical, GanttChart, Landmark, LayoutDashboard, Library, LogOut, Menu, Monitor, Moon, Network, Settings, Sheet, Sun, TrendingUpDown, Trophy, Workflow, X } from "lucide-react";
import { GlobalSearch } from "./GlobalSearch";
import { Button } from "@/components/ui/button";
import { DropdownMenu, DropdownMenuContent, DropdownMenuItem, DropdownMenuLabel, DropdownMenuSeparator, DropdownMenuTrigger } from "@/components/ui/dropdown-menu";
import { Skeleton } from "@/components/ui/skeleton";
import { api } from "@/lib/api";
import { useAuthState } from "@/lib/auth";
import { pageTitle } from "@/lib/pageTitle";
import { useTheme } from "@/lib/theme";
import { cn } from "@/lib/utils";

export const NAV = [
  { to: "/", label: "Dashboard", icon: LayoutDashboard, end: true },
  { to: "/models", label: "My models", icon: Library },
  { to: "/timeline", label: "Timeline", icon: GanttChart },
  { to: "/compare", label: "Compare", icon: ArrowLeftRight },
  { to: "/transfer", label: "Import / Export", icon: FileUp },
] as const;

/** The Hub: fine-tuning (train, runs, datasets) and benchmarking (leaderboards). */
export const HUB_NAV = [
  { to: "/hub/train", label: "Train", icon: FlaskConical },
  { to: "/hub/runs", label: "Runs", icon: Workflow },
  { to: "/hub/datasets", label: "Datasets", icon: Database },
  { to: "/hub/base-models", label: "Base models", icon: Boxes },
  { to: "/hub/leaderboards", label: "Leaderboards", icon: Trophy },
  { to: "/hub/lineage", label: "Lineage", icon: Network },
  { to: "/hub/changes", label: "Capability changes", icon: TrendingUpDown },
  { to: "/hub/museum", label: "Failure museum", icon: Landmark },
  { to: "/hub/research", label: "Research data", icon: Sheet },
] as const;

type NavEntry = { to: string; label: string; icon: React.ComponentType<{ className?: string }>; end?: boolean };

function NavItems({ items, onNavigate }: { items: readonly NavEntry[]; onNavigate?: () => void }) {
  return (
    <ul className="flex flex-col gap-0.5">
      {items.map(({ to, label, icon: Icon, ...rest }) => (
        <li key={to}>
          <NavLink
            to={to}
            end={!!rest.end}
            onClick={onNavigate}
            className={({ isActive }) =>
              cn(
                "flex items-center gap-2.5 rounded-md px-2.5 py-2 text-sm font-medium text-muted-foreground transition-colors hover:bg-accent hover:text-foreground",
                isActive && "bg-accent text-foreground",
              )
            }
          >
            <Icon className="size-4" aria-hidden />
            {label}
          </NavLink>
        </li>
      ))}
    </ul>
  );
}

function NavSections({ onNavigate }: { onNavigate?: () => void }) {
  return (
    <>
      <div>
        <p className="mb-1 px-2.5 text-[11px] font-semibold uppercase tracking-wider text-muted-foreground/80">Tracker</p>
        <NavItems items={NAV} onNavigate={onNavigate} />
      </div>
      <div>
        <p className="mb-1 px-2.5 text-[11px] font-semibold uppercase tracking-wider text-muted-foreground/80">Hub</p>
        <NavItems items={HUB_NAV} onNavigate={onNavigate} />
      </div>
    </>
  );
}

function ThemeMenu() {
  const { choice, set, isDark } = useTheme();
  return (
    <DropdownMenu>
      <DropdownMenuTrigger asChild>
        <Button variant="ghost" size="icon" aria-label={`Colour theme (now ${choice})`} data-testid="theme-toggle">
          {isDark ? <Moon aria-hidden /> : <Sun aria-hidden />}
        </Button>
      </DropdownMenuTrigger>
      <DropdownMenuContent align="end">
        <DropdownMenuLabel>Theme</DropdownMenuLabel>
        <DropdownMenuItem onSelect={() => set("light")}>
          <Sun aria-hidden /> Light
        </DropdownMenuItem>
        <DropdownMenuItem onSelect={() => set("dark")}>
          <Moon aria-hidden /> Dark
        </DropdownMenuItem>
        <DropdownMenuItem onSelect={() => set("system")}>
          <Monitor aria-hidden /> System
        </DropdownMenuItem>
      </DropdownMenuContent>
    </DropdownMenu>
  );
}

/** Who is signed in: a menu with Settings and Log out; in single-user mode a hint and a "Create account" link. */
function UserMenu() {
  const { data: state } = useAuthState();
  const qc = useQueryClient();
  const navigate = useNavigate();
  const logout = useMutation({
    mutationFn: () => api.post("/auth/logout"),
    onSuccess: () => {
      qc.clear();
      navigate("/login");
    },
  });
  if (!state) return null;
  if (state.mode === "single_user") {
    return (
      <DropdownMenu>
        <DropdownMenuTrigger asChild>
          <Button variant="ghost" size="sm" data-testid="user-menu">
            <CircleUser aria-hidden /> <span className="hidden sm:inline">Single-user mode</span>
          </Button>
        </DropdownMenuTrigger>
        <DropdownMenuContent align="end">
          <DropdownMenuLabel>Single-user mode: no login needed</DropdownMenuLabel>
          <DropdownMenuItem asChild>
            <Link to="/signup">
              <CircleUser aria-hidden /> Create account
            </Link>
          </DropdownMenuItem>
          <DropdownMenuItem asChild>
            <Link to="/settings">
              <Settings aria-hidden /> Settings
            </Link>
          </DropdownMenuItem>
        </DropdownMenuContent>
      </DropdownMenu>
    );
  }
  if (!state.user) {
    return (
      <Button variant="ghost" size="sm" asChild data-testid="user-menu">
        <Link to="/login">Log in</Link>
      </Button>
    );
  }
  return (
    <DropdownMenu>
      <DropdownMenuTrigger asChild>
        <Button variant="ghost" size="sm" data-testid="user-menu" aria-label={`Account menu (${state.user.username})`}>
          <CircleUser aria-hidden /> <span className="hidden max-w-40 truncate sm:inline">{state.user.username}</span>
        </Button>
      </DropdownMenuTrigger>
      <DropdownMenuContent align="end">
        <DropdownMenuLabel>Signed in as {state.user.username}</DropdownMenuLabel>
        <DropdownMenuItem asChild>
          <Link to="/settings">
            <Settings aria-hidden /> Settings
          </Link>
        </DropdownMenuItem>
        <DropdownMenuSeparator />
        <DropdownMenuItem onSelect={() => logout.mutate()}>
          <LogOut aria-hidden /> Log out
        </DropdownMenuItem>
      </DropdownMenuContent>
    </DropdownMenu>
  );
}

function Brand() {
  return (
    <NavLink to="/" className="flex items-center gap-2 rounded-md font-semibold tracking-tight" aria-label="ModelMate, go to the dashboard">
      <img src="/favicon.svg" alt="" className="size-7 shrink-0" />
      <span className="hidden min-[420px]:inline lg:inline">ModelMate</span>
    </NavLink>
  );
}

export function PageFallback() {
  return (
    <div className="space-y-4" aria-busy="true" aria-label="Loading">
      <Skeleton className="h-8 w-48" />
      <Skeleton className="h-28 w-full" />
      <Skeleton className="h-64 w-full" />
    </div>
  );
}

export function AppShell() {
  const [menuOpen, setMenuOpen] = useState(false);
  const location = useLocation();
  useEffect(() => setMenuOpen(false), [location.pathname]);
  useEffect(() => {
    document.title = pageTitle(location.pathname);
  }, [location.pathname]);

  return (
    <div className="min-h-screen">
      <a href="#main" className="sr-only focus:not-sr-only focus:fixed focus:left-3 focus:top-3 focus:z-[60] focus:rounded-md focus:bg-card focus:px-3 focus:py-2 focus:shadow">
        Skip to content
      </a>
      <aside className="fixed inset-y-0 left-0 hidden w-60 flex-col gap-6 border-r bg-card/60 px-3 py-4 lg:flex" aria-label="Sidebar">
        <div className="px-2.5">
          <Brand />
        </div>
        <nav aria-label="Main" className="grid gap-5">
          <NavSections />
        </nav>
        <p className="mt-auto px-2.5 text-xs text-muted-foreground">Your personal diary of AI models, and a place to fine-tune them.</p>
      </aside>
      <div className="lg:pl-60">
        <header className="sticky top-0 z-30 flex h-14 items-center gap-2 border-b bg-background/85 px-3 backdrop-blur sm:px-6">
          <Button
            variant="ghost"
            size="icon"
            className="lg:hidden"
            aria-label={menuOpen ? "Close menu" : "Open menu"}
            aria-expanded={menuOpen}
            aria-controls="mobile-nav"
            onClick={() => setMenuOpen((o) => !o)}
          >
            {menuOpen ? <X aria-hidden /> : <Menu aria-hidden />}
          </Button>
          <div className="shrink-0 lg:hidden" data-testid="header-brand">
            <Brand />
          </div>
          {/* min-w-0 + flex-1: on a phone the search box takes the room left between the logo and the buttons (it used
              to keep its own minimum width and slide over the logo). */}
          <GlobalSearch className="min-w-0 max-w-md flex-1" />
          <div className="ml-auto flex shrink-0 items-center gap-1">
            <ThemeMenu />
            <UserMenu />
          </div>
        </header>
        {menuOpen && (
          <nav id="mobile-nav" aria-label="Main" className="border-b bg-card px-3 py-2 lg:hidden">
            <div className="grid gap-3">
              <NavSections onNavigate={() => setMenuOpen(false)} />
            </div>
          </nav>
        )}
        <main id="main" className="mx-auto w-full max-w-7xl px-3 py-6 sm:px-6 lg:py-8">
          <Suspense fallback={<PageFallback />}>
            <Outlet />
          </Suspense>
        </main>
      </div>
    </div>
  );
}

export function PageHeader({ title, description, actions }: { title: string; description?: string; actions?: React.ReactNode }) {
  return (
    <div className="mb-6 flex flex-wrap items-end justify-between gap-3">
      <div>
        <h1 className="text-2xl font-semibold tracking-tight">{title}</h1>
        {description && <p className="mt-1 text-sm text-muted-foreground">{description}</p>}
      </div>
      {actions && <div className="flex flex-wrap items-center gap-2">{actions}</div>}
    </div>
  );
}

export function EmptyState({ icon: Icon, title, children }: { icon?: React.ComponentType<{ className?: string }>; title: string; children?: React.ReactNode }) {
  return (
    <div className="flex flex-col items-center justify-center gap-2 rounded-lg border border-dashed bg-card/50 px-6 py-14 text-center" data-testid="empty-state">
      {Icon && <Icon className="size-8 text-muted-foreground/70" />}
      <h2 className="font-semibold">{title}</h2>
      {children && <div className="max-w-md text-sm text-muted-foreground">{children}</div>}
    </div>
  );
}
