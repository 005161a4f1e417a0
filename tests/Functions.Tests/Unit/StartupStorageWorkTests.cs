using System.Collections.Concurrent;
using AgentRuns.Functions.Security;
using AgentRuns.Functions.Storage;
using AgentRuns.Functions.Tests.Support;
using Azure;
using Azure.Data.Tables;
using Azure.Data.Tables.Models;
using Azure.Identity;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Moq;

namespace AgentRuns.Functions.Tests.Unit;

/// <summary>
/// Start-up storage work (tables, development key) against a mocked table service: in Azure (managed identity) a 403
/// while the role assignments apply never fails start-up and is retried; locally (connection string) the work is done
/// before start-up returns and a failure stops it.
/// </summary>
public sealed class StartupStorageWorkTests
{
    private static readonly StartupRetry Fast = new(TimeSpan.FromMilliseconds(1), TimeSpan.FromMilliseconds(5));

    [Fact]
    public async Task InAzure_StorageRefusingAtStartUp_DoesNotFailStart_AndTheTablesAreCreatedOnceItAccepts()
    {
        var storage = new FakeTableService(
            Forbidden(), new AuthenticationFailedException("no token yet"), Forbidden());
        var logs = new CapturingLoggerProvider();
        var initializer = new TableInitializer(storage.Tables, IdentityStorage(), CreateLogger<TableInitializer>(logs), TimeProvider.System, Fast);

        await initializer.StartAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(5));

        var tableCount = storage.TableNames.Count;
        Assert.True(tableCount >= 4, $"RunTables asked for {tableCount} tables");
        await Eventually.GetAsync(() => Task.FromResult(storage.Created.Count), c => c == tableCount, TimeSpan.FromSeconds(10), "every table");

        // The success line is logged right after the last table is made: wait for it rather than race it.
        await Eventually.GetAsync(
            () => Task.FromResult(logs.Lines.Any(l => l.StartsWith("Information", StringComparison.Ordinal) && l.Contains("after 4 attempts", StringComparison.Ordinal))),
            found => found, TimeSpan.FromSeconds(10), "the success line");
        Assert.Equal(storage.TableNames.Order(), storage.Created.Order());
        Assert.Equal(3 + tableCount, storage.CreateCalls);
        var warnings = logs.Lines.Where(l => l.StartsWith("Warning", StringComparison.Ordinal)).ToList();
        Assert.Equal(3, warnings.Count);
        Assert.Equal(2, warnings.Count(w => w.Contains("403 AuthorizationPermissionMismatch", StringComparison.Ordinal)));
        Assert.Contains(logs.Lines, l => l.StartsWith("Information", StringComparison.Ordinal) && l.Contains("after 4 attempts", StringComparison.Ordinal));
        await initializer.StopAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task InAzure_StoppingWhileStorageStillRefuses_EndsTheRetriesAtOnce()
    {
        var storage = new FakeTableService(Enumerable.Range(0, 100).Select(_ => Forbidden()).ToArray());
        var hourly = new StartupRetry(TimeSpan.FromHours(1), TimeSpan.FromHours(1));
        var initializer = new TableInitializer(storage.Tables, IdentityStorage(), CreateLogger<TableInitializer>(new CapturingLoggerProvider()), TimeProvider.System, hourly);

        await initializer.StartAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(5));
        await Eventually.GetAsync(() => Task.FromResult(storage.CreateCalls), a => a == 1, TimeSpan.FromSeconds(10), "the first attempt");

        // The loop now waits an hour before its next attempt: stopping must not wait for it.
        await initializer.StopAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(1, storage.CreateCalls);
        Assert.Empty(storage.Created);
    }

    [Fact]
    public async Task Locally_StartWaitsUntilTheTablesExist()
    {
        var gate = new TaskCompletionSource();
        var storage = new FakeTableService { FirstCreateGate = gate.Task };
        var initializer = new TableInitializer(storage.Tables, ConnectionStringStorage(), CreateLogger<TableInitializer>(new CapturingLoggerProvider()), TimeProvider.System, Fast);

        var start = initializer.StartAsync(CancellationToken.None);
        Assert.False(start.IsCompleted, "start-up must not finish while the first table is still being created");
        gate.SetResult();
        await start.WaitAsync(TimeSpan.FromSeconds(5));

        Assert.Equal(storage.TableNames.Order(), storage.Created.Order());
    }

    [Fact]
    public async Task Locally_AStorageFailureAtStartUp_FailsStart()
    {
        var storage = new FakeTableService(Forbidden());
        var initializer = new TableInitializer(storage.Tables, ConnectionStringStorage(), CreateLogger<TableInitializer>(new CapturingLoggerProvider()), TimeProvider.System, Fast);

        var failure = await Assert.ThrowsAsync<RequestFailedException>(() => initializer.StartAsync(CancellationToken.None));

        Assert.Equal(403, failure.Status);
        Assert.Equal(1, storage.CreateCalls);
        Assert.Empty(storage.Created);
    }

    [Fact]
    public async Task InAzure_DevelopmentKeySeeder_StorageRefusingAtStartUp_DoesNotFailStart_AndTheKeyIsStoredLater()
    {
        var storage = new FakeTableService(Forbidden(), Forbidden());
        var keys = new ApiKeyStore(storage.Tables, TimeProvider.System);
        var auth = Options.Create(new AuthOptions { DevelopmentKey = "ark_unit_test_development_key", DevelopmentTenant = "dev" });
        var seeder = new DevelopmentKeySeeder(storage.Tables, keys, auth, IdentityStorage(), CreateLogger<DevelopmentKeySeeder>(new CapturingLoggerProvider()), TimeProvider.System, Fast);

        await seeder.StartAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(5));

        var stored = await Eventually.GetAsync(() => Task.FromResult(storage.StoredKeys.ToList()), k => k.Count == 1, TimeSpan.FromSeconds(10), "the stored key");
        Assert.Equal(ApiKeyStore.Hash("ark_unit_test_development_key"), stored[0].RowKey);
        Assert.Equal("dev", stored[0].TenantId);
        Assert.Equal(2 + storage.TableNames.Count, storage.CreateCalls);
        await seeder.StopAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(5));
    }

    private static RequestFailedException Forbidden() =>
        new(403, "This request is not authorized to perform this operation using this permission.", "AuthorizationPermissionMismatch", null);

    private static IOptions<RunStorageOptions> IdentityStorage() => Options.Create(new RunStorageOptions
    {
        TableServiceUri = new Uri("https://example.table.core.windows.net/"),
        ClientId = "00000000-0000-0000-0000-000000000000",
    });

    private static IOptions<RunStorageOptions> ConnectionStringStorage() => Options.Create(new RunStorageOptions { ConnectionString = "UseDevelopmentStorage=true" });

    private static ILogger<T> CreateLogger<T>(CapturingLoggerProvider provider) => new LoggerFactory([provider]).CreateLogger<T>();

    /// <summary>
    /// A table service that fails the next calls to create a table with the given failures, one per call (so one per
    /// attempt: creating the tables stops at the first failure); after that it creates every table and stores every key.
    /// It does not depend on which tables <see cref="RunTables"/> has: it serves whatever names it is asked for.
    /// </summary>
    private sealed class FakeTableService
    {
        private readonly ConcurrentQueue<Exception> _failures;
        private readonly ConcurrentDictionary<string, TableClient> _tables = new();
        private int _createCalls;

        public FakeTableService(params Exception[] failures)
        {
            _failures = new ConcurrentQueue<Exception>(failures);
            var service = new Mock<TableServiceClient>();
            service.Setup(s => s.GetTableClient(It.IsAny<string>())).Returns((string name) => _tables.GetOrAdd(name, Table));
            Tables = new RunTables(service.Object, new RunStorageOptions());
        }

        public RunTables Tables { get; }

        /// <summary>The first call to create a table waits for this task (already complete unless a test holds it).</summary>
        public Task FirstCreateGate { get; init; } = Task.CompletedTask;

        /// <summary>Every table name the code asked the service for.</summary>
        public ICollection<string> TableNames => _tables.Keys;

        public ConcurrentBag<string> Created { get; } = [];

        public ConcurrentBag<ApiKeyEntity> StoredKeys { get; } = [];

        public int CreateCalls => Volatile.Read(ref _createCalls);

        private TableClient Table(string name)
        {
            var table = new Mock<TableClient>();
            table.Setup(t => t.CreateIfNotExistsAsync(It.IsAny<CancellationToken>())).Returns(async () =>
            {
                if (Interlocked.Increment(ref _createCalls) == 1)
                {
                    await FirstCreateGate;
                }

                if (_failures.TryDequeue(out var failure))
                {
                    throw failure;
                }

                Created.Add(name);
                return Response.FromValue(new TableItem(name), Mock.Of<Response>());
            });
            table.Setup(t => t.AddEntityAsync(It.IsAny<ApiKeyEntity>(), It.IsAny<CancellationToken>()))
                .Returns((ApiKeyEntity entity, CancellationToken _) =>
                {
                    StoredKeys.Add(entity);
                    return Task.FromResult(Mock.Of<Response>());
                });
            return table.Object;
        }
    }
}
