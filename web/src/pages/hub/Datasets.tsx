// Your training datasets: upload a new one, see what is there.
import { Link, useNavigate } from "react-router";
import { Database } from "lucide-react";
import { EmptyState, PageHeader } from "@/components/AppShell";
import { DatasetUpload } from "@/components/hub/DatasetUpload";
import { Badge } from "@/components/ui/badge";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { Skeleton } from "@/components/ui/skeleton";
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from "@/components/ui/table";
import { formatBytes, formatCount, formatDate } from "@/lib/format";
import { datasetTokens, FORMAT_LABEL } from "@/lib/hub";
import { useDatasets } from "@/lib/hubQueries";

export default function Datasets() {
  const datasets = useDatasets();
  const navigate = useNavigate();
  const list = datasets.data ?? [];
  return (
    <div>
      <PageHeader title="Datasets" description="The examples your models learn from. Files are checked row by row and stored unchanged." />
      <div className="grid gap-6 lg:grid-cols-[minmax(0,3fr)_minmax(0,2fr)]">
        <div className="order-2 lg:order-1">
          {datasets.isLoading && <Skeleton className="h-48 w-full" />}
          {datasets.isSuccess && list.length === 0 && (
            <EmptyState icon={Database} title="No datasets yet">
              <p>Upload a JSONL, CSV or Parquet file of examples to train on.</p>
            </EmptyState>
          )}
          {list.length > 0 && (
            <div className="rounded-lg border bg-card">
              <Table>
                <TableHeader>
                  <TableRow>
                    <TableHead>Name</TableHead>
                    <TableHead>Format</TableHead>
                    <TableHead className="text-right">Rows</TableHead>
                    <TableHead className="hidden text-right sm:table-cell">Tokens</TableHead>
                    <TableHead className="hidden text-right md:table-cell">Size</TableHead>
                    <TableHead className="hidden md:table-cell">Added</TableHead>
                  </TableRow>
                </TableHeader>
                <TableBody>
                  {list.map((d) => (
                    <TableRow key={d.id} data-testid="dataset-row">
                      <TableCell className="max-w-56">
                        <Link to={`/hub/datasets/${d.id}`} className="block truncate font-medium hover:underline">
                          {d.name}
                        </Link>
                        {d.original_filename && <span className="block truncate text-xs text-muted-foreground">{d.original_filename}</span>}
                      </TableCell>
                      <TableCell>
                        <Badge variant="muted">{FORMAT_LABEL[d.format] ?? d.format}</Badge>
                      </TableCell>
                      <TableCell className="text-right tabular-nums">{formatCount(d.rows)}</TableCell>
                      <TableCell className="hidden text-right tabular-nums sm:table-cell">
                        {formatCount(datasetTokens(d)?.total)}
                      </TableCell>
                      <TableCell className="hidden text-right tabular-nums md:table-cell">{formatBytes(d.size_bytes)}</TableCell>
                      <TableCell className="hidden whitespace-nowrap text-muted-foreground md:table-cell">{formatDate(d.created_at)}</TableCell>
                    </TableRow>
                  ))}
                </TableBody>
              </Table>
            </div>
          )}
        </div>
        <Card className="order-1 content-start lg:order-2">
          <CardHeader>
            <CardTitle className="text-base">Upload a dataset</CardTitle>
            <CardDescription>Text, Alpaca, ShareGPT or OpenAI messages, as JSONL, CSV or Parquet.</CardDescription>
          </CardHeader>
          <CardContent>
            <DatasetUpload compact onUploaded={(d) => navigate(`/hub/datasets/${d.id}`)} />
          </CardContent>
        </Card>
      </div>
    </div>
  );
}
