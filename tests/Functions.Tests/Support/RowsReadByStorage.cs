using System.Text.Json;
using System.Text.RegularExpressions;
using System.Web;
using Azure.Core;
using Azure.Core.Pipeline;
using Azure.Data.Tables;

namespace AgentRuns.Functions.Tests.Support;

/// <summary>
/// Counts what reads of one table cost the table service, as Table Storage charges them: a point read reads its row, and a
/// query reads every row of the key range its filter bounds (<c>PartitionKey eq</c>, <c>RowKey ge/gt/le/lt</c>), whatever
/// its other conditions keep: a condition on another property is checked row by row inside that range. Before each query
/// goes out, the rows in its range are counted with a client of its own (not counted). Also counts the rows the service
/// returned, which on its own would hide a scan behind a selective filter.
/// </summary>
public sealed partial class RowsReadByStorage(TableClient uncounted) : HttpPipelinePolicy
{
    private int _queries;
    private int _pointReads;
    private int _rowsRead;
    private int _rowsReturned;

    public int Queries => Volatile.Read(ref _queries);

    public int PointReads => Volatile.Read(ref _pointReads);

    /// <summary>Rows the service read to answer: those in each query's key range, plus one per point read.</summary>
    public int RowsRead => Volatile.Read(ref _rowsRead);

    public int RowsReturned => Volatile.Read(ref _rowsReturned);

    public void Reset()
    {
        Interlocked.Exchange(ref _queries, 0);
        Interlocked.Exchange(ref _pointReads, 0);
        Interlocked.Exchange(ref _rowsRead, 0);
        Interlocked.Exchange(ref _rowsReturned, 0);
    }

    public override string ToString() =>
        $"{Queries} queries and {PointReads} point reads: {RowsRead} rows read by the service, {RowsReturned} returned";

    public override void Process(HttpMessage message, ReadOnlyMemory<HttpPipelinePolicy> pipeline) => throw new NotSupportedException();

    public override async ValueTask ProcessAsync(HttpMessage message, ReadOnlyMemory<HttpPipelinePolicy> pipeline)
    {
        var uri = message.Request.Uri.ToUri();
        var path = Uri.UnescapeDataString(uri.AbsolutePath);
        var marker = "/" + uncounted.Name + "(";
        var at = path.IndexOf(marker, StringComparison.Ordinal);
        var isQuery = false;
        if (message.Request.Method == RequestMethod.Get && at >= 0)
        {
            if (path[at + marker.Length] == ')')
            {
                isQuery = true;
                Interlocked.Increment(ref _queries);
                Interlocked.Add(ref _rowsRead, await RowsInRangeAsync(HttpUtility.ParseQueryString(uri.Query)["$filter"]));
            }
            else
            {
                Interlocked.Increment(ref _pointReads);
                Interlocked.Increment(ref _rowsRead);
            }
        }

        await ProcessNextAsync(message, pipeline);
        if (isQuery && message.Response.Status == 200 && message.Response.ContentStream is { CanSeek: true } body)
        {
            using var json = await JsonDocument.ParseAsync(body);
            body.Position = 0;
            Interlocked.Add(ref _rowsReturned, json.RootElement.GetProperty("value").GetArrayLength());
        }
    }

    private async Task<int> RowsInRangeAsync(string? filter)
    {
        var range = new List<string>();
        if (filter is not null && !filter.Contains(" or ", StringComparison.OrdinalIgnoreCase))
        {
            if (PartitionEq().Match(filter) is { Success: true } pk)
            {
                range.Add(TableClient.CreateQueryFilter($"PartitionKey eq {Unquote(pk.Groups[1].Value)}"));
            }

            foreach (Match bound in RowKeyBound().Matches(filter))
            {
                var value = Unquote(bound.Groups[2].Value);
                range.Add(bound.Groups[1].Value switch
                {
                    "ge" => TableClient.CreateQueryFilter($"RowKey ge {value}"),
                    "gt" => TableClient.CreateQueryFilter($"RowKey gt {value}"),
                    "le" => TableClient.CreateQueryFilter($"RowKey le {value}"),
                    _ => TableClient.CreateQueryFilter($"RowKey lt {value}"),
                });
            }
        }

        var count = 0;
        await foreach (var _ in uncounted.QueryAsync<TableEntity>(range.Count == 0 ? null : string.Join(" and ", range), select: ["RowKey"]))
        {
            count++;
        }

        return count;
    }

    private static string Unquote(string value) => value.Replace("''", "'", StringComparison.Ordinal);

    [GeneratedRegex("PartitionKey eq '((?:[^']|'')*)'")]
    private static partial Regex PartitionEq();

    [GeneratedRegex("RowKey (ge|gt|le|lt) '((?:[^']|'')*)'")]
    private static partial Regex RowKeyBound();
}
