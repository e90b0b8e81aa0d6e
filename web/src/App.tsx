import { lazy } from "react";
import { createBrowserRouter, Navigate, RouterProvider } from "react-router";
import { MutationCache, QueryCache, QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { AppShell } from "./components/AppShell";
import { Toaster, toast } from "./components/ui/toast";
import { TooltipProvider } from "./components/ui/tooltip";
import { ApiError, errorMessage } from "./lib/api";

const Dashboard = lazy(() => import("./pages/Dashboard"));
const Models = lazy(() => import("./pages/Models"));
const EntryPage = lazy(() => import("./pages/EntryPage"));
const Timeline = lazy(() => import("./pages/Timeline"));
const Compare = lazy(() => import("./pages/Compare"));
const Transfer = lazy(() => import("./pages/Transfer"));
const SearchPage = lazy(() => import("./pages/SearchPage"));
const NotFound = lazy(() => import("./pages/NotFound"));
const LoginPage = lazy(() => import("./pages/Auth").then((m) => ({ default: m.LoginPage })));
const SignupPage = lazy(() => import("./pages/Auth").then((m) => ({ default: m.SignupPage })));
const SettingsPage = lazy(() => import("./pages/Settings"));
const CapturePage = lazy(() => import("./pages/Capture"));
const Train = lazy(() => import("./pages/hub/Train"));
const TrainExpert = lazy(() => import("./pages/hub/TrainExpert"));
const Runs = lazy(() => import("./pages/hub/Runs"));
const RunPage = lazy(() => import("./pages/hub/RunPage"));
const Datasets = lazy(() => import("./pages/hub/Datasets"));
const BaseModels = lazy(() => import("./pages/hub/BaseModels"));
const DatasetPage = lazy(() => import("./pages/hub/DatasetPage"));
const HubModel = lazy(() => import("./pages/hub/HubModel"));
const Leaderboards = lazy(() => import("./pages/hub/Leaderboards"));
const Museum = lazy(() => import("./pages/hub/Museum"));
const Changes = lazy(() => import("./pages/hub/Changes"));
const Research = lazy(() => import("./pages/hub/Research"));
const ModelPage = lazy(() => import("./pages/hub/ModelPage"));
const Lineage = lazy(() => import("./pages/hub/Lineage"));

export function makeQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: {
      queries: {
        staleTime: 15_000,
        refetchOnWindowFocus: false,
        retry: (count, err) => !(err instanceof ApiError && err.status < 500) && count < 2,
      },
    },
    queryCache: new QueryCache({
      onError: (err, query) => {
        if (query.meta?.silent || (err instanceof ApiError && err.status === 401)) return;
        toast.error("Could not load data", errorMessage(err));
      },
    }),
    mutationCache: new MutationCache({
      onError: (err, _v, _c, mutation) => {
        if (mutation.meta?.silent || (err instanceof ApiError && err.status === 401)) return;
        toast.error("That did not work", errorMessage(err));
      },
    }),
  });
}

const router = createBrowserRouter([
  {
    element: <AppShell />,
    children: [
      { index: true, element: <Dashboard /> },
      { path: "models", element: <Models /> },
      { path: "entries/:id", element: <EntryPage /> },
      { path: "timeline", element: <Timeline /> },
      { path: "compare", element: <Compare /> },
      { path: "transfer", element: <Transfer /> },
      { path: "search", element: <SearchPage /> },
      { path: "login", element: <LoginPage /> },
      { path: "signup", element: <SignupPage /> },
      { path: "settings", element: <SettingsPage /> },
      { path: "capture", element: <CapturePage /> },
      { path: "hub", element: <Navigate to="/hub/train" replace /> },
      { path: "hub/train", element: <Train /> },
      { path: "hub/train/expert", element: <TrainExpert /> },
      { path: "hub/runs", element: <Runs /> },
      { path: "hub/runs/:id", element: <RunPage /> },
      { path: "hub/datasets", element: <Datasets /> },
      { path: "hub/datasets/:id", element: <DatasetPage /> },
      { path: "hub/base-models", element: <BaseModels /> },
      { path: "hub/models/:id", element: <HubModel /> },
      { path: "hub/leaderboards", element: <Leaderboards /> },
      { path: "hub/museum", element: <Museum /> },
      { path: "hub/changes", element: <Changes /> },
      { path: "hub/research", element: <Research /> },
      { path: "hub/lineage", element: <Lineage /> },
      { path: "m/:owner/:name", element: <ModelPage /> },
      { path: "*", element: <NotFound /> },
    ],
  },
]);

const queryClient = makeQueryClient();

export function App() {
  return (
    <QueryClientProvider client={queryClient}>
      <TooltipProvider delayDuration={300}>
        <RouterProvider router={router} />
        <Toaster />
      </TooltipProvider>
    </QueryClientProvider>
  );
}
