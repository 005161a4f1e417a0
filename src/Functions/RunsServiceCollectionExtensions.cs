using AgentRuns.Functions.Activities;
using AgentRuns.Functions.Agents;
using AgentRuns.Functions.Http;
using AgentRuns.Functions.Idempotency;
using AgentRuns.Functions.Runs;
using AgentRuns.Functions.Security;
using AgentRuns.Functions.Storage;
using AgentRuns.Functions.Streaming;
using AgentRuns.Functions.Webhooks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;

namespace AgentRuns.Functions;

public static class RunsServiceCollectionExtensions
{
    /// <summary>
    /// Registers everything the runs service needs, for the Functions worker, the local host and the tests alike.
    /// </summary>
    public static IServiceCollection AddRunsServices(this IServiceCollection services)
    {
        services.AddOptions<RunStorageOptions>()
            .BindConfiguration(RunStorageOptions.SectionName)
            .ValidateDataAnnotations()
            .Validate(o => o.IsConfigured, "Set RunStorage:ConnectionString (local) or RunStorage:TableServiceUri (Azure).")
            .ValidateOnStart();
        services.AddOptions<RunOptions>()
            .BindConfiguration(RunOptions.SectionName)
            .ValidateDataAnnotations()
            .Validate(o => o.DefaultSignalTimeoutSeconds <= o.MaxSignalTimeoutSeconds,
                "Runs:DefaultSignalTimeoutSeconds must not exceed Runs:MaxSignalTimeoutSeconds.")
            .ValidateOnStart();

        services.AddOptions<StreamOptions>()
            .BindConfiguration(StreamOptions.SectionName)
            .ValidateDataAnnotations()
            .Validate(o => o.MinPollMilliseconds <= o.MaxPollMilliseconds, "Streams:MinPollMilliseconds must not exceed Streams:MaxPollMilliseconds.")
            .ValidateOnStart();

        services.AddOptions<RepairOptions>().BindConfiguration(RepairOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();

        services.AddOptions<WebhookOptions>()
            .BindConfiguration(WebhookOptions.SectionName)
            .ValidateDataAnnotations()
            .Validate(o => o.RetryDelays().All(d => d <= TimeSpan.FromDays(2)), "Webhooks:RetryScheduleSeconds: each delay is at most 172800 seconds.")
            .ValidateOnStart();

        services.AddOptions<AuthOptions>().BindConfiguration(AuthOptions.SectionName);
        services.AddOptions<SecurityOptions>().BindConfiguration(SecurityOptions.SectionName);
        services.AddOptions<IdempotencyOptions>().BindConfiguration(IdempotencyOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();

        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<ApiKeyStore>();
        services.TryAddSingleton<IdempotencyStore>();
        services.TryAddSingleton<PayloadRedactor>();
        services.TryAddSingleton<RunEventNotifier>();
        services.TryAddSingleton<RunEventStream>();
        services.TryAddSingleton<RunTables>();
        services.TryAddSingleton<OpenRunIndex>();
        services.TryAddSingleton<IWebhookHostResolver, DnsWebhookHostResolver>();
        services.TryAddSingleton<WebhookUrlPolicy>();
        services.TryAddSingleton<PublicAddressConnector>();
        services.TryAddSingleton<IWebhookTransport, HttpWebhookTransport>();
        services.TryAddSingleton<WebhookSubscriptionStore>();
        services.TryAddSingleton<WebhookOutboxIndex>();
        services.TryAddSingleton<WebhookAttemptLog>();
        services.TryAddSingleton<WebhookSubscriptionCache>();
        services.TryAddSingleton<WebhookKicks>();
        services.TryAddSingleton<IEventOutbox, WebhookOutbox>();
        services.TryAddSingleton<WebhookDispatcher>();
        services.TryAddSingleton<WebhookService>();
        services.TryAddSingleton<RunStore>();
        services.AddOptions<AgentOptions>().BindConfiguration(AgentOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        services.TryAddSingleton<IAgent, ScriptedAgent>();
        services.AddSingleton<IAgentProvider, ScriptedAgentProvider>();
        services.AddModelAgent();
        services.AddWorkerAgents();
        services.TryAddSingleton<AgentCatalog>();
        services.TryAddSingleton<ICallerResolver, ApiKeyCallerResolver>();
        services.TryAddSingleton<RunService>();
        services.TryAddSingleton<RunRepairer>();
        services.TryAddSingleton<HistoryRetention>();
        services.TryAddSingleton<RunActivities>();
        services.TryAddSingleton<ApiEndpoint>();
        services.TryAddSingleton<ShippedFiles>();
        services.AddHostedService<TableInitializer>();
        services.AddHostedService<DevelopmentKeySeeder>();
        services.AddHostedService<WebhookKickService>();
        return services;
    }
}
