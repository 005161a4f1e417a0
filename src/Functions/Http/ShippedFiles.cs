namespace AgentRuns.Functions.Http;

/// <summary>
/// The files the app ships besides its code, from its own folder (the publish output): the operator console
/// (<c>console/</c>, from <c>src/Functions/Console</c>) and the OpenAPI document (<c>openapi/openapi.json</c>, from
/// <c>src/Functions/OpenApi</c>). Read at first use and kept in memory.
/// </summary>
public sealed class ShippedFiles
{
    public const string ConsoleFolder = "console";
    public const string OpenApiFolder = "openapi";
    public const string OpenApiFileName = "openapi.json";

    private readonly Lazy<StaticFiles> _console;
    private readonly Lazy<StaticFiles> _openApi;

    public ShippedFiles()
        : this(AppContext.BaseDirectory)
    {
    }

    public ShippedFiles(string appDirectory)
    {
        _console = new(() => StaticFiles.Load(Path.Combine(appDirectory, ConsoleFolder)));
        _openApi = new(() => StaticFiles.Load(Path.Combine(appDirectory, OpenApiFolder)));
    }

    public StaticFiles Console => _console.Value;

    public StaticFile? OpenApiDocument => _openApi.Value.Find(OpenApiFileName);
}
