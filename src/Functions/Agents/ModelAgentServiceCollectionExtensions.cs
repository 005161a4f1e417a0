using AgentRuns.Functions.Runs;
using AgentRuns.Functions.Storage;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Options;
using Polly;

namespace AgentRuns.Functions.Agents;

public static class ModelAgentServiceCollectionExtensions
{
    /// <summary>
    /// The longest a model call may take with all its retries: each attempt's timeout and a minute per back-off (a longer
    /// Retry-After is honoured only as far as this budget goes).
    /// </summary>
    public static TimeSpan TotalTimeout(ModelAgentOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return TimeSpan.FromSeconds(((options.MaxRetries + 1) * options.TimeoutSeconds) + (options.MaxRetries * MaxRetryDelay.TotalSeconds));
    }

    private static readonly TimeSpan MaxRetryDelay = TimeSpan.FromSeconds(60);

    /// <summary>
    /// The model agent: its options, the HTTP client its model calls go through (retries of 429, 408, 5xx, timeouts and lost
    /// connections with exponential back-off that honours Retry-After), its chat client (keyed <see cref="AgentNames.Model"/>; a
    /// registration made before this one wins, which is how tests bring a scripted model), its conversation store, its tools and
    /// its provider in the agent catalog.
    /// </summary>
    public static IServiceCollection AddModelAgent(this IServiceCollection services)
    {
        services.AddOptions<ModelAgentOptions>()
            .BindConfiguration(ModelAgentOptions.SectionName)
            .ValidateDataAnnotations()
            .Validate(o => o.Problem() is null, "ModelAgent:Endpoint must be an absolute http(s) URL, and ModelAgent:Model must be set with it.")
            .ValidateOnStart();

        services.AddHttpClient(ModelChatClients.HttpClientName, client => client.Timeout = Timeout.InfiniteTimeSpan)
            // The chat client lives as long as the app: its connections are renewed instead, so DNS changes are seen.
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(2) })
            .SetHandlerLifetime(Timeout.InfiniteTimeSpan)
            .AddResilienceHandler("model-calls", (pipeline, context) =>
            {
                var o = context.ServiceProvider.GetRequiredService<IOptions<ModelAgentOptions>>().Value;
                pipeline.AddTimeout(TotalTimeout(o));
                if (o.MaxRetries > 0)
                {
                    pipeline.AddRetry(new HttpRetryStrategyOptions
                    {
                        MaxRetryAttempts = o.MaxRetries,
                        Delay = TimeSpan.FromMilliseconds(o.RetryDelayMilliseconds),
                        MaxDelay = MaxRetryDelay,
                        BackoffType = DelayBackoffType.Exponential,
                        UseJitter = true,
                        ShouldRetryAfterHeader = true,
                    });
                }

                pipeline.AddTimeout(TimeSpan.FromSeconds(o.TimeoutSeconds));
            });

        services.TryAddSingleton<ModelChatClients>();
        services.TryAddKeyedSingleton<IChatClient>(AgentNames.Model, (sp, _) => sp.GetRequiredService<ModelChatClients>().Create());
        services.TryAddSingleton<ModelConversationStore>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IAgentRunState, ModelConversationStore>(sp => sp.GetRequiredService<ModelConversationStore>()));
        services.TryAddSingleton<EmailOutbox>();
        services.TryAddSingleton<SampleEmailTools>();
        services.TryAddSingleton<ModelToolset>();
        services.TryAddSingleton<ModelAgent>();
        services.AddSingleton<IAgentProvider, ModelAgentProvider>();
        return services;
    }
}
