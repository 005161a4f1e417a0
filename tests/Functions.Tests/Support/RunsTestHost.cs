using System.Net;
using System.Net.Sockets;
using AgentRuns.Functions.Agents;
using AgentRuns.Functions.Http;
using AgentRuns.Functions.Orchestrations;
using AgentRuns.Functions.Runs;
using AgentRuns.Functions.Security;
using AgentRuns.Functions.Storage;
using AgentRuns.Functions.Webhooks;
using AgentRuns.Functions.Workers;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.AI;
using Microsoft.DurableTask.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace AgentRuns.Functions.Tests.Support;

/// <summary>
/// The real run orchestration and activities in the Durable Task in-process test host (real replay, in-memory
/// backend), writing to real tables in Azurite. One per test process, shared by every integration test; each process
/// gets its own table names, so runs never see another test process's data.
/// </summary>
public sealed class RunsTestHost
{
    private static readonly Lazy<Task<RunsTestHost>> Shared = new(StartAsync);

    /// <summary>The model agent's turn limit in the test host.</summary>
    public const int ModelMaxTurns = 6;

    private RunsTestHost(DurableTaskTestHost durable, string tablePrefix)
    {
        Durable = durable;
        TablePrefix = tablePrefix;
        Functions = ActivatorUtilities.CreateInstance<RunFunctions>(durable.Services);
        WebhookFunctions = ActivatorUtilities.CreateInstance<WebhookFunctions>(durable.Services);
        WorkerFunctions = ActivatorUtilities.CreateInstance<WorkerFunctions>(durable.Services);
    }

    public DurableTaskTestHost Durable { get; }

    public string TablePrefix { get; }

    public IServiceProvider Services => Durable.Services;

    public DurableTaskClient Client => Durable.Client;

    public RunFunctions Functions { get; }

    public WebhookFunctions WebhookFunctions { get; }

    public WorkerFunctions WorkerFunctions { get; }

    /// <summary>Where the HTTP workers' calls go: answered as each test says (by the URL's path), recorded.</summary>
    public ScriptedWorkers Workers => Services.GetRequiredService<ScriptedWorkers>();

    /// <summary>Where the service's webhooks go: recorded, answered as each test says.</summary>
    public RecordingWebhookTransport Receivers => (RecordingWebhookTransport)Services.GetRequiredService<IWebhookTransport>();

    public WebhookOutboxIndex WebhookOutbox => Services.GetRequiredService<WebhookOutboxIndex>();

    /// <summary>A webhook dispatcher with its clock <paramref name="ahead"/> of the real one (the host's own runs the kicks).</summary>
    public WebhookDispatcher WebhookDispatcher(TimeSpan ahead = default) =>
        ActivatorUtilities.CreateInstance<WebhookDispatcher>(Services, new ShiftedTime(ahead));

    /// <summary>A client of one tenant shared by tests that do not care which tenant they are.</summary>
    public ApiClient Api { get; private set; } = null!;

    public ApiKeyStore Keys => Services.GetRequiredService<ApiKeyStore>();

    /// <summary>A client with a freshly minted key of a new tenant: nothing else in the test run sees its runs.</summary>
    public async Task<ApiClient> NewTenantAsync(string? tenantId = null)
    {
        tenantId ??= "tenant-" + Guid.NewGuid().ToString("N")[..12];
        var minted = await Keys.MintAsync(tenantId, "test");
        return new ApiClient(this, minted.Key) { TenantId = tenantId };
    }

    public RunStore Runs => Services.GetRequiredService<RunStore>();

    public OpenRunIndex OpenRuns => Services.GetRequiredService<OpenRunIndex>();

    /// <summary>The engine as the HTTP functions and the repairer use it, on the test host's Durable client.</summary>
    public IRunEngine Engine => new RunEngine(Client, Services.GetRequiredService<ILogger<RunEngine>>());

    /// <summary>The repairer with its clock <paramref name="ahead"/> of the real one: what it would do that much later.</summary>
    public RunRepairer Repairer(TimeSpan ahead = default) =>
        ActivatorUtilities.CreateInstance<RunRepairer>(Services, new ShiftedTime(ahead));

    public RunTables Tables => Services.GetRequiredService<RunTables>();

    /// <summary>Takes storage away from the rows a test names (<see cref="ScopedOutage"/>), on the host's own table clients.</summary>
    public ScopedOutage Outage => Services.GetRequiredService<ScopedOutage>();

    /// <summary>The host's tables through a client of their own, with <paramref name="policy"/> on every try of every request.</summary>
    public RunTables TablesWith(Azure.Core.Pipeline.HttpPipelinePolicy policy)
    {
        var options = new Azure.Data.Tables.TableClientOptions();
        options.AddPolicy(policy, Azure.Core.HttpPipelinePosition.PerRetry);
        options.Retry.Delay = TimeSpan.FromMilliseconds(50);
        return new RunTables(Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<RunStorageOptions>>(), options);
    }

    /// <summary>
    /// The host's tables, except a webhook outbox of the test's own (created here), so a test can count every row in it; with the
    /// policy that <paramref name="policyFor"/> makes (given a client of that outbox without it) on every try of every request.
    /// </summary>
    public Task<RunTables> TablesWithOwnOutboxAsync(
        Func<Azure.Data.Tables.TableClient, Azure.Core.Pipeline.HttpPipelinePolicy>? policyFor = null) =>
        TablesWithOwnAsync((o, name) => o.WebhookOutboxTable = name, t => t.WebhookOutbox, policyFor);

    /// <summary>The host's tables, except an index of open runs of the test's own (created here); as <see cref="TablesWithOwnOutboxAsync"/>.</summary>
    public Task<RunTables> TablesWithOwnOpenRunsAsync(
        Func<Azure.Data.Tables.TableClient, Azure.Core.Pipeline.HttpPipelinePolicy>? policyFor = null) =>
        TablesWithOwnAsync((o, name) => o.OpenRunsTable = name, t => t.OpenRuns, policyFor);

    private async Task<RunTables> TablesWithOwnAsync(
        Action<RunStorageOptions, string> rename,
        Func<RunTables, Azure.Data.Tables.TableClient> own,
        Func<Azure.Data.Tables.TableClient, Azure.Core.Pipeline.HttpPipelinePolicy>? policyFor)
    {
        var shared = Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<RunStorageOptions>>().Value;
        var options = new RunStorageOptions();
        foreach (var property in typeof(RunStorageOptions).GetProperties().Where(p => p.CanWrite))
        {
            property.SetValue(options, property.GetValue(shared));
        }

        rename(options, TablePrefix + "Own" + Guid.NewGuid().ToString("N")[..8]);
        var plain = new RunTables(Microsoft.Extensions.Options.Options.Create(options));
        await own(plain).CreateIfNotExistsAsync();
        if (policyFor is null)
        {
            return plain;
        }

        var clientOptions = new Azure.Data.Tables.TableClientOptions();
        clientOptions.AddPolicy(policyFor(own(plain)), Azure.Core.HttpPipelinePosition.PerRetry);
        return new RunTables(Microsoft.Extensions.Options.Options.Create(options), clientOptions);
    }

    public static Task<RunsTestHost> GetAsync() => Shared.Value;

    private static async Task<RunsTestHost> StartAsync()
    {
        await Azurite.EnsureRunningAsync();
        var prefix = "t" + Guid.NewGuid().ToString("N")[..10];
        var durable = await DurableTaskTestHost.StartAsync(
            registry => registry.AddRunTasks(),
            new DurableTaskTestHostOptions
            {
                Port = FreePort(),
                ConfigureServices = services =>
                {
                    services.AddSingleton<ScriptedAgent>();

                    // The app's table clients (RunTables takes its client options from DI) can lose storage for one test's rows.
                    // They also refuse what the Table service refuses and Azurite stores (an entity over 1 MiB).
                    services.AddSingleton<ScopedOutage>();
                    services.AddSingleton<TableServiceLimits>();
                    services.AddSingleton(sp =>
                    {
                        var options = new Azure.Data.Tables.TableClientOptions();
                        options.AddPolicy(sp.GetRequiredService<ScopedOutage>(), Azure.Core.HttpPipelinePosition.PerRetry);
                        options.AddPolicy(sp.GetRequiredService<TableServiceLimits>(), Azure.Core.HttpPipelinePosition.PerRetry);
                        return options;
                    });
                    services.AddSingleton<IAgent, GatedAgent>();
                    services.AddSingleton<IWebhookTransport, RecordingWebhookTransport>();

                    // The model agent: a scripted model, or the real SDK over an in-memory chat-completions server.
                    services.AddKeyedSingleton<IChatClient>(AgentNames.Model, (sp, _) => new ScriptedChatClient(sp));
                    services.AddModelAgentTool(TestModelTools.CrashOnceTool.Function);
                    services.AddModelAgentTool(TestModelTools.ArchiveThreadTool.Function);
                    services.AddRunsServices();
                    services.AddHttpClient(ModelChatClients.HttpClientName).ConfigurePrimaryHttpMessageHandler(() => new ScriptedModelHandler());

                    // HTTP workers: the real client (resilience, signing, size bound) over scripted answers instead of sockets.
                    services.AddSingleton<ScriptedWorkers>();
                    services.AddHttpClient(WorkerClient.HttpClientName).ConfigurePrimaryHttpMessageHandler(sp => sp.GetRequiredService<ScriptedWorkers>());
                    services.PostConfigure<WorkerOptions>(o =>
                    {
                        o.TimeoutSeconds = 5;
                        o.MaxRetries = 2;
                        o.RetryDelayMilliseconds = 1;
                        o.MaxResponseBytes = 64 * 1024;
                    });
                    services.PostConfigure<ModelAgentOptions>(o =>
                    {
                        o.Endpoint = "http://model.test/v1";
                        o.Model = "test-model";
                        o.ApiKey = "test-key";
                        o.MaxTurns = ModelMaxTurns;
                        o.MaxRetries = 3;
                        o.RetryDelayMilliseconds = 1;
                        o.TimeoutSeconds = 10;
                    });
                    services.AddLogging(b => b
                        .AddProvider(CapturingLoggerProvider.Instance)
                        .AddFilter<CapturingLoggerProvider>(null, LogLevel.Trace));
                    services.PostConfigure<RunStorageOptions>(o =>
                    {
                        o.ConnectionString = Azurite.ConnectionString;
                        o.RunsTable = prefix + "Runs";
                        o.OpenRunsTable = prefix + "Open";
                        o.IdempotencyTable = prefix + "Idem";
                        o.ApiKeysTable = prefix + "Keys";
                        o.WebhooksTable = prefix + "Hooks";
                        o.WebhookOutboxTable = prefix + "HookOut";
                        o.WebhookAttemptsTable = prefix + "HookLog";
                        o.ModelTurnsTable = prefix + "Turns";
                        o.EmailOutboxTable = prefix + "Mail";
                        o.WorkersTable = prefix + "Workers";
                        o.WorkerStepsTable = prefix + "WSteps";
                    });
                },
            });
        var host = new RunsTestHost(durable, prefix);
        await host.Tables.EnsureCreatedAsync();
        host.Api = await host.NewTenantAsync();
        return host;
    }

    /// <summary>The system clock moved by a fixed amount.</summary>
    public sealed class ShiftedTime(TimeSpan shift) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => base.GetUtcNow() + shift;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
