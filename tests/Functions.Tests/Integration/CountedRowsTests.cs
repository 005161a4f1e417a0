using AgentRuns.Functions.Storage;
using AgentRuns.Functions.Tests.Support;
using Azure.Data.Tables;

namespace AgentRuns.Functions.Tests.Integration;

/// <summary>Rows bounded per partition, the count kept beside them in the same transactions (against Azurite).</summary>
public sealed class CountedRowsTests
{
    [Fact]
    public async Task APartitionWrittenBeforeTheCountExisted_IsCountedOnce_ThenKeptByEveryAddAndDelete()
    {
        var host = await RunsTestHost.GetAsync();
        var table = host.Tables.Workers;
        var rows = new CountedRows(table);
        var tenant = "t" + Guid.NewGuid().ToString("N")[..8];
        await table.AddEntityAsync(new TableEntity(tenant, "old-1"));
        await table.AddEntityAsync(new TableEntity(tenant, "old-2"));

        Assert.Equal(CountedAdd.LimitReached, await rows.AddAsync(new TableEntity(tenant, "new-1"), limit: 2));
        Assert.Equal(CountedAdd.Exists, await rows.AddAsync(new TableEntity(tenant, "old-1"), limit: 2));
        Assert.Equal(CountedAdd.Added, await rows.AddAsync(new TableEntity(tenant, "new-1"), limit: 3));
        Assert.Equal(3, await CountAsync(table, tenant));

        Assert.True(await rows.DeleteAsync(tenant, "old-1"));
        Assert.False(await rows.DeleteAsync(tenant, "old-1"));
        Assert.Equal(2, await CountAsync(table, tenant));
        Assert.Equal(CountedAdd.Added, await rows.AddAsync(new TableEntity(tenant, "new-2"), limit: 3));
        Assert.Equal(CountedAdd.LimitReached, await rows.AddAsync(new TableEntity(tenant, "new-3"), limit: 3));
        Assert.Equal(["!count", "new-1", "new-2", "old-2"], await KeysAsync(table, tenant));
    }

    [Fact]
    public async Task ConcurrentAddsAndDeletes_LeaveTheCountEqualToTheRows_AndNeverPassTheLimit()
    {
        var host = await RunsTestHost.GetAsync();
        var table = host.Tables.Workers;
        var rows = new CountedRows(table);
        var tenant = "t" + Guid.NewGuid().ToString("N")[..8];
        const int Limit = 5;

        var outcomes = await Task.WhenAll(Enumerable.Range(0, 16).Select(i => Task.Run(async () =>
        {
            var added = await rows.AddAsync(new TableEntity(tenant, $"r{i}"), Limit);
            if (added == CountedAdd.Added && i % 2 == 0)
            {
                Assert.True(await rows.DeleteAsync(tenant, $"r{i}"));
            }

            return added;
        })));

        var keys = (await KeysAsync(table, tenant)).Where(k => k != CountedRows.CountKey).ToList();
        Assert.InRange(keys.Count, 0, Limit);
        Assert.Equal(keys.Count, await CountAsync(table, tenant));
        Assert.True(outcomes.Count(o => o == CountedAdd.Added) >= Limit);
    }

    private static async Task<int> CountAsync(TableClient table, string tenant) =>
        (await table.GetEntityAsync<TableEntity>(tenant, CountedRows.CountKey)).Value.GetInt32("Count")!.Value;

    private static async Task<List<string>> KeysAsync(TableClient table, string tenant)
    {
        var keys = new List<string>();
        await foreach (var e in table.QueryAsync<TableEntity>(TableClient.CreateQueryFilter($"PartitionKey eq {tenant}")))
        {
            keys.Add(e.RowKey);
        }

        return keys;
    }
}
