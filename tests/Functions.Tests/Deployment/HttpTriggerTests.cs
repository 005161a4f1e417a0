using System.Reflection;
using Microsoft.Azure.Functions.Worker;

namespace AgentRuns.Functions.Tests.Deployment;

/// <summary>The API authenticates with its own bearer keys; the Functions platform's keys must never be asked for.</summary>
public sealed class HttpTriggerTests
{
    [Fact]
    public void EveryHttpFunction_IsAnonymousToThePlatform_AndRoutedUnderV1HealthOrTheDocuments()
    {
        var triggers = typeof(RunOptions).Assembly.GetTypes()
            .SelectMany(t => t.GetMethods())
            .SelectMany(m => m.GetParameters())
            .Select(p => p.GetCustomAttribute<HttpTriggerAttribute>())
            .OfType<HttpTriggerAttribute>()
            .ToList();

        Assert.True(triggers.Count >= 8, $"only {triggers.Count} HTTP functions found");
        Assert.All(triggers, t =>
        {
            // Function or Admin level would make the platform demand its own key (x-functions-key or ?code=) and refuse
            // the guide's 'Authorization: Bearer' calls before our code runs.
            Assert.Equal(AuthorizationLevel.Anonymous, t.AuthLevel);
            // The API under v1/, the probes, and what a browser or a client generator fetches without a key: the OpenAPI
            // document and the operator console (which asks for a key itself).
            Assert.True(
                t.Route is "health" or "health/ready" or "openapi.json" or "console/{*path}" || t.Route!.StartsWith("v1/", StringComparison.Ordinal),
                t.Route);
        });
    }
}
