using AgentRuns.Functions.Orchestrations;
using Azure.Data.Tables;
using Azure.Storage.Blobs;
using Azure.Storage.Queues;
using DurableTask.AzureStorage;
using DurableTask.Core;
using Microsoft.DurableTask.Client;
using Microsoft.DurableTask.Testing.Sidecar.Grpc;
using Microsoft.DurableTask.Worker;
using Microsoft.DurableTask.Worker.Hosting;

namespace AgentRuns.LocalHost;

/// <summary>
/// Durable Functions' engine outside the Functions host: the Durable Task Framework's Azure Storage backend (what
/// Durable Functions runs on in Azure), exposed through the Durable Task gRPC sidecar on a loopback HTTP/2 listener,
/// with the run tasks' worker and a client connected to it.
/// </summary>
public static class DurableAzureStorageExtensions
{
    private static readonly TimeSpan WorkerStopTimeout = TimeSpan.FromSeconds(10);

    public static IServiceCollection AddDurableOnAzureStorage(this IServiceCollection services, LocalHostOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        services.AddSingleton(sp => new AzureStorageOrchestrationService(new AzureStorageOrchestrationServiceSettings
        {
            StorageAccountClientProvider = CreateClientProvider(options.StorageConnectionString, sp.GetService<StorageRequestCounter>()),
            TaskHubName = options.HubName ?? "AgentRuns",
            WorkerId = options.WorkerId,
            UseTablePartitionManagement = true,
            MaxQueuePollingInterval = options.MaxQueuePollingInterval ?? TimeSpan.FromSeconds(1),
            ControlQueueVisibilityTimeout = options.ControlQueueVisibilityTimeout ?? TimeSpan.FromMinutes(5),
            WorkItemQueueVisibilityTimeout = options.WorkItemQueueVisibilityTimeout ?? TimeSpan.FromMinutes(5),

            // As in Durable Functions: starting an instance whose id exists in a status the caller said not to replace throws,
            // instead of returning as if it had started it.
            ThrowExceptionOnInvalidDedupeStatus = true,
            LoggerFactory = sp.GetRequiredService<ILoggerFactory>(),
        }));
        services.AddSingleton<IOrchestrationService>(sp => sp.GetRequiredService<AzureStorageOrchestrationService>());
        services.AddSingleton<IOrchestrationServiceClient>(sp => sp.GetRequiredService<AzureStorageOrchestrationService>());

        services.AddGrpc();
        services.AddSingleton<TaskHubGrpcServer>();

        var sidecar = $"http://127.0.0.1:{options.GrpcPort}";
        services.AddDurableTaskWorker(builder => builder.UseGrpc(sidecar).AddTasks(registry => registry.AddRunTasks()));
        services.AddDurableTaskClient(builder => builder.UseGrpc(sidecar));
        return services;
    }

    /// <summary>The backend's storage clients; with the storage request counter's policy when counting is on.</summary>
    private static StorageAccountClientProvider CreateClientProvider(string connectionString, StorageRequestCounter? counter) =>
        counter is null
            ? new StorageAccountClientProvider(connectionString)
            : new StorageAccountClientProvider(
                StorageServiceClientProvider.ForBlob(
                    connectionString, counter.Attach(new BlobClientOptions(), StorageRequestCounter.Durable, StorageRequestCounter.Blobs)),
                StorageServiceClientProvider.ForQueue(
                    connectionString, counter.Attach(new QueueClientOptions(), StorageRequestCounter.Durable, StorageRequestCounter.Queues)),
                StorageServiceClientProvider.ForTable(
                    connectionString, counter.Attach(new TableClientOptions(), StorageRequestCounter.Durable, StorageRequestCounter.Tables)));

    /// <summary>
    /// Creates the task hub (queues, tables, containers) if needed, maps the sidecar, and stops the worker first on
    /// shutdown: its open work-item stream would otherwise hold Kestrel's shutdown for ~30 s.
    /// </summary>
    public static async Task UseDurableOnAzureStorageAsync(this WebApplication app, LocalHostOptions options)
    {
        ArgumentNullException.ThrowIfNull(app);
        ArgumentNullException.ThrowIfNull(options);
        await app.Services.GetRequiredService<AzureStorageOrchestrationService>().CreateIfNotExistsAsync();

        // Resolved now, not on the first gRPC call: its constructor hooks ApplicationStarted to start the dispatchers.
        app.Services.GetRequiredService<TaskHubGrpcServer>();
        app.MapGrpcService<TaskHubGrpcServer>().RequireHost($"*:{options.GrpcPort}");

        app.Lifetime.ApplicationStopping.Register(() =>
        {
            foreach (var worker in app.Services.GetServices<IHostedService>().OfType<DurableTaskWorker>())
            {
                // Stopping blocks until its callbacks return: that is what makes the worker stop before Kestrel.
                worker.StopAsync(CancellationToken.None).Wait(WorkerStopTimeout, CancellationToken.None);
            }
        });
    }
}
