using System.Reflection;
using System.Text.Json;
using AgentRuns.Functions.Tests.Support;

namespace AgentRuns.Functions.Tests.Deployment;

/// <summary>Every setting the code binds is set in Azure (main.bicep) and documented for local runs.</summary>
public sealed class AppSettingsTests
{
    /// <summary>Settings that exist on purpose in one place only, and why.</summary>
    private static readonly Dictionary<string, string> LocalOnly = new()
    {
        ["RunStorage__ConnectionString"] = "Azure uses the managed identity (RunStorage__TableServiceUri), never a key.",
        ["ModelAgent__ApiKey"] = "In Azure the model agent reaches Azure OpenAI with the app's managed identity; a key for another endpoint is set by hand, never in the template.",
    };

    private static readonly Dictionary<string, string> AzureOnly = new()
    {
        ["RunStorage__TableServiceUri"] = "Locally the connection string points at Azurite.",
        ["RunStorage__ClientId"] = "The managed identity exists only in Azure.",
    };

    public static IEnumerable<string> BoundSettings()
    {
        var options = typeof(RunOptions).Assembly.GetTypes()
            .Select(t => (Type: t, Section: t.GetField("SectionName", BindingFlags.Public | BindingFlags.Static)?.GetValue(null) as string))
            .Where(x => x.Section is not null && x.Type.Name.EndsWith("Options", StringComparison.Ordinal))
            .ToList();
        Assert.True(options.Count >= 6, "options classes not found");
        return options.SelectMany(o => o.Type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.SetMethod?.IsPublic == true)
            .Select(p => $"{o.Section}__{p.Name}"));
    }

    [Fact]
    public void EveryBoundSetting_IsInMainBicepAppSettings()
    {
        var bicep = File.ReadAllText(Path.Combine(RepositoryRoot.Path, "infra", "main.bicep"));
        var block = bicep[bicep.IndexOf("var appSettings = {", StringComparison.Ordinal)..];
        block = block[..block.IndexOf("\n}", StringComparison.Ordinal)];
        var missing = BoundSettings().Where(s => !LocalOnly.ContainsKey(s) && !block.Contains($"\n  {s}:", StringComparison.Ordinal)).ToList();
        Assert.Empty(missing);
    }

    [Fact]
    public void EveryBoundSetting_IsInLocalSettingsSample()
    {
        using var sample = JsonDocument.Parse(File.ReadAllText(Path.Combine(RepositoryRoot.Path, "local.settings.sample.json")));
        var values = sample.RootElement.GetProperty("Values").EnumerateObject().Select(p => p.Name).ToHashSet();
        var missing = BoundSettings().Where(s => !AzureOnly.ContainsKey(s) && !values.Contains(s)).ToList();
        Assert.Empty(missing);
        Assert.Contains("AzureWebJobsStorage", values);
    }
}
